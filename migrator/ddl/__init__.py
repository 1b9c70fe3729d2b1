"""DDL on live tables: what a statement blocks, what the guard allows, what narrows a column."""
