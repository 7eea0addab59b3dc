"""Statistics of generated samples: amplification and inherited (training-sample) uncertainty."""
