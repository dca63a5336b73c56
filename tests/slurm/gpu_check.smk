# A stand-in training rule: it carries a training rule's name, so profiles/slurm gives it that
# rule's GPU resources, and records what the job sees of its allocation.
import json
import os

from distillery.train.distributed import process_info


rule ff_train:
    output:
        "gpu_job.json",
    log:
        "logs/ff_train.log",
    run:
        info = process_info()
        seen = {k: os.environ.get(k) for k in ("CUDA_VISIBLE_DEVICES", "SLURM_JOB_PARTITION")}
        seen.update(rank=info.rank, world_size=info.world_size, threads=threads)
        with open(output[0], "w") as out:
            json.dump(seen, out)
