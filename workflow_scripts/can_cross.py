"""Models trained on one CAN dataset scored as intrusion detectors on another's test windows."""

import pandas as pd
import torch

from distillery.can.cross import cross_figures
from distillery.can.dataset import load_graphs
from distillery.can.ids import ids_table
from distillery.can.models.build import load_classifier
from distillery.io import atomic_path, read_json, write_json
from distillery.train.torch_device import torch_device
from distillery.workflow import run_script


def main(snakemake) -> None:
    torch.set_num_threads(snakemake.threads)
    p, inp = snakemake.params, snakemake.input
    windows = pd.read_parquet(inp.windows)
    models = {name: load_classifier(path)[0]
              for name, path in zip(p.models, inp.models, strict=True)}
    figures = cross_figures(models, load_graphs(inp.source_val), load_graphs(inp.test),
                            windows[windows["split"] == "test"], read_json(inp.meta)["classes"],
                            p.ids.fprs, p.batch_size, torch_device(p.device))
    write_json(snakemake.output.json, {"source": snakemake.wildcards.source,
                                       "target": snakemake.wildcards.dataset, "ids": figures})
    table = ids_table(figures, ())
    with atomic_path(snakemake.output.table) as tmp:
        table.to_csv(tmp, index=False)
    print(table.to_string(index=False))


run_script(main, snakemake)
