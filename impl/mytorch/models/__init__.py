"""MyTorch's models: mlp.py (HW1P1: MLP0, MLP1, MLP4, Linear and ReLU layers of fixed widths),
cnn.py (HW2P1: CNN, Conv1d layers and their activations, Flatten, a Linear and its criterion),
rnn_classifier.py (HW3P1: RNNPhonemeClassifier, stacked RNNCells and a Linear on the last step)."""
