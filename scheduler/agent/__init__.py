"""The cluster agent: runs beside one cluster and reports its GPUs, carbon forecast and power to the service."""
