"""Networks, one family per module. Samplers and training loops live elsewhere."""
