"""Learning a model from picture pairs: data, losses and the training loop."""
