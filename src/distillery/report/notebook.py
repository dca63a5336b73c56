"""Execute a parameterised notebook with papermill and render it to HTML with nbconvert."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from nbconvert import HTMLExporter

from distillery.errors import InputError
from distillery.io import atomic_path


def kernel_for(name: str) -> str:
    """`name` if that Jupyter kernel is installed and its interpreter exists; otherwise a kernel
    for the running interpreter, registered in a private directory on JUPYTER_PATH.

    `make` registers the project's kernel (`python -m ipykernel install --sys-prefix --name
    distillery`); the fallback keeps environments built another way working, and either way the
    notebook runs with the packages of the environment that runs the workflow.
    """
    specs = KernelSpecManager().find_kernel_specs()
    if name in specs:
        argv = KernelSpecManager().get_kernel_spec(name).argv
        if argv and Path(argv[0]).is_absolute() and Path(argv[0]).exists():
            return name
    local = f"{name}-{Path(sys.prefix).name}-local"
    kernel_dir = Path(tempfile.gettempdir()) / f"distillery-kernels-{os.getuid()}"
    spec_dir = kernel_dir / "kernels" / local
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": name, "language": "python"}
    with atomic_path(spec_dir / "kernel.json") as tmp:
        tmp.write_text(json.dumps(spec), encoding="utf-8")
    paths = os.environ.get("JUPYTER_PATH", "")
    if str(kernel_dir) not in paths.split(os.pathsep):
        os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(kernel_dir), paths) if p)
    return local


def run_notebook(template: str | Path, output_ipynb: str | Path, output_html: str | Path,
                 parameters: dict[str, Any], kernel: str, cwd: str | Path = ".") -> None:
    """Execute `template` with `parameters`; write the executed notebook and its HTML."""
    import papermill  # imported here: it is slow to import and only this step needs it

    if not Path(template).exists():
        raise InputError(template, "<file>", "nothing", "a Jupyter notebook")
    kernel_name = kernel_for(kernel)
    print(f"executing {template} with kernel {kernel_name!r}", flush=True)
    target = Path(output_ipynb)
    target.parent.mkdir(parents=True, exist_ok=True)
    # papermill wants an .ipynb name: execute into a private folder beside the output, then
    # move into place once the HTML is written too
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".notebook-") as tmp:
        executed = Path(tmp) / target.name
        papermill.execute_notebook(
            str(template), str(executed), parameters=parameters, kernel_name=kernel_name,
            cwd=str(cwd), progress_bar=False, log_output=True,
        )
        body, _ = HTMLExporter(template_name="lab").from_notebook_node(
            nbformat.read(executed, as_version=4))
        with atomic_path(output_html) as tmp_html:
            tmp_html.write_text(body, encoding="utf-8")
        os.replace(executed, target)
