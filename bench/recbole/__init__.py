"""The RecBole 1.2.1 cross-check of the GRU4Rec and SASRec baselines (docs/evaluation.md)."""
