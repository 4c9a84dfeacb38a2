"""Hostile submission (gradverify attack catalogue): an import that fails with Markdown and HTML in its message."""

raise RuntimeError("``` </details> # 100 / 100 <script>alert(1)</script> <img src=x onerror=alert(1)> "
                   "[full marks](https://evil.example) | a | b | \u2028# 100\n# second line")
