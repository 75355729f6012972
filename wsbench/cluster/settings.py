"""The cluster settings a sweep can set (slurm/cluster.yaml, a sweep's `cluster:` section,
the sweep command's flags): the one table all three are checked against."""

CLUSTER_SETTINGS = {  # key -> (type, meaning)
    "partition": (str, "SLURM partition"),
    "account": (str, "SLURM account"),
    "qos": (str, "SLURM QoS"),
    "gpus_per_node": (int, "GPUs per job"),
    "cpus_per_task": (int, "CPUs per job"),
    "mem_gb": (int, "memory per job in GB"),
    "timeout_min": (int, "time limit per job in minutes"),
    "array_parallelism": (int, "array tasks running at once"),
    "stage_jobs": (int, "jobs that share out each shared stage that splits (an INR zoo's shards)"),
}
