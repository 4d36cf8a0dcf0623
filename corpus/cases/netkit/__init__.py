"""netkit: a small library of the held-out corpus."""
