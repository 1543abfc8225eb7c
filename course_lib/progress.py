"""A live loss print for training loops.

Why not a progress bar library: a bar redraws itself with control characters and
timings, which differ on every run; a line every few epochs says as much, is the same
text each time a seeded notebook runs, and needs nothing installed.
"""

__all__ = ["report"]


def report(epoch: int, epochs: int, loss: float, every: int = 10, extra: str = "") -> None:
    """Print one line on the first epoch, every ``every`` epochs and on the last one."""
    if epoch == 0 or (epoch + 1) % every == 0 or epoch + 1 == epochs:
        width = len(str(epochs))
        print(f"epoch {epoch + 1:>{width}}/{epochs}  loss {loss:.6g}" + (f"  {extra}" if extra else ""))
