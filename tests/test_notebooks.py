"""Runs every course notebook top to bottom, the way a student would, against the installed
package: any cell error fails the test, and each notebook's last cells assert the effect its
lesson teaches. CNN_FAST=1 lets the notebooks shrink epochs and data so CI stays short; the
outputs saved in the repository come from full runs (CNN_FAST unset).

The saved files are checked too: plots must be visible on a plain view of the file, and no
saved cell may hold an error.
"""
import glob
import os

import pytest

NOTEBOOK_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "notebooks")
NOTEBOOKS = sorted(glob.glob(os.path.join(NOTEBOOK_DIR, "*.ipynb")))
CELL_TIMEOUT_S = 900

nbformat = pytest.importorskip("nbformat")


def _names():
    return [os.path.basename(path) for path in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_names())
def test_saved_notebook_shows_its_plots_and_no_errors(path):
    notebook = nbformat.read(path, as_version=4)
    outputs = [out for cell in notebook.cells if cell.cell_type == "code"
               for out in cell.get("outputs", [])]
    assert not [out for out in outputs if out.output_type == "error"], \
        f"{os.path.basename(path)} was saved with an error output"
    assert any("image/png" in out.get("data", {}) for out in outputs), \
        f"{os.path.basename(path)} has no saved plot: run it fully and save it with outputs"
    unexecuted = [cell for cell in notebook.cells
                  if cell.cell_type == "code" and cell.source.strip()
                  and cell.get("execution_count") is None]
    assert not unexecuted, f"{os.path.basename(path)} has code cells saved without outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_names())
def test_notebook_runs_clean_and_shows_its_effect(path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("CNN_FAST", "1")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": NOTEBOOK_DIR}})
    client.execute()  # raises CellExecutionError naming the cell and its traceback



LESSONS = ["01-Regression-nn-assignment.ipynb",
           "02-Normalization-and-regularization-assignment.ipynb",
           "03-Transfer_learning.ipynb",
           "04-clustering-assignment.ipynb",
           "05-Regression-RNN-assignment.ipynb",
           "06-GAN.ipynb",
           "07-Transformer.ipynb"]


def test_every_lesson_has_its_notebook():
    """The course's seven lessons, each with its notebook (and nothing unlisted in
    notebooks/README.md)."""
    assert _names() == LESSONS
    with open(os.path.join(NOTEBOOK_DIR, "README.md")) as f:
        readme = f.read()
    assert all(f"`{name}`" in readme for name in LESSONS)
