"""Training a keyword spotter: the LightningModule, losses, learning-rate schedules, augmentation,
callbacks (epoch summaries, curve diagnostics, resilience), the learning-rate finder and the
hyper-parameters TensorBoard compares runs by."""
