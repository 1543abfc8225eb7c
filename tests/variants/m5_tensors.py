"""m5_tensors submissions (filled in below)."""

ALTERNATIVE: dict = {}
PITFALLS: dict = {}
CHEAT_CELL = "unbroadcast"
