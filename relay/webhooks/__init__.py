"""The WordPress door: signatures (is it genuine?), payload (what does it say?), wordpress (carry it out)."""
