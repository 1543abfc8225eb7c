"""m6_attention submissions: placeholders while the probes are written."""

ALTERNATIVE: dict = {}
PITFALLS: dict = {}
SAYS: dict = {}
CHEAT_CELL = "tensor_matmul"
ROUND_TRIP: tuple = ()
