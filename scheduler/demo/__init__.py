"""``make demo``: the whole product on embedded defaults, from registering clusters to the public ledger."""
