"""Distillation: a teacher (a model, a .cube, a command, a TorchScript file) makes the ground
truth from unlabeled pictures, and a zoo model learns to reproduce it."""
