"""Training the interest model: the loop, its parts, batching and scoring."""
