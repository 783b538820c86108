"""Op registry rows, one module per op family (each defines ``OPS: list[OpInfo]``)."""
