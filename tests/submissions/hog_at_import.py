BUFFER = bytearray(10**12)
