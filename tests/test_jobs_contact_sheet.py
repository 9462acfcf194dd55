"""`fastchi contact-sheet`'s job in-process: a sheet written, usage errors that leave nothing."""

import pytest
from PIL import Image

from fastchi_tf import cli
from fastchi_tf.jobs import contact_sheet as contact_sheet_job
from fastchi_tf.jobs import stylize as stylize_job
from fixtures_models import keras_model_path  # noqa: F401  (fixtures)
from fixtures_models import photo  # noqa: F401

Job = contact_sheet_job.ContactSheetJob


@pytest.mark.slow  # over 5 s: make test, not test-fast
def test_a_sheet_of_two_photos_and_a_ramp_is_written(keras_model_path, photo, tmp_path):
  out = tmp_path / "new" / "sheet.png"
  contact_sheet_job.run(Job(model=keras_model_path, inputs=[photo, photo], output=str(out),
                            ramp="", steps=3))
  width, height = Image.open(out).size
  assert width > height  # rows of three: photo, stylized, and the ramp's 3 strengths


@pytest.mark.parametrize("fields,message", [
    (dict(output="{tmp}/new/sheet.jpg"), "a contact sheet is written as .png"),
    (dict(mix=["0", "1"]), "--mix needs a multi-style model"),
    (dict(inputs=["{tmp}/missing.png"]), "missing.png"),
    (dict(model="{photo}"), "{photo}"),  # a photo as the model
])
@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_usage_errors_leave_nothing_behind(keras_model_path, photo, tmp_path, fields, message):
  fields = {k: ([v.format(tmp=tmp_path) for v in v] if isinstance(v, list) else
                v.format(tmp=tmp_path, photo=photo)) for k, v in fields.items()}
  job = Job(**{"model": keras_model_path, "inputs": [photo],
               "output": str(tmp_path / "new" / "sheet.png"), **fields})
  with pytest.raises(cli.UsageError) as info:
    contact_sheet_job.run(job)
  assert message.format(tmp=tmp_path, photo=photo) in str(info.value)
  assert not (tmp_path / "new").exists()


@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_the_runtime_is_chosen_as_fastchi_stylize_chooses_it(keras_model_path, photo,
                                                             tmp_path, monkeypatch):
  """One rule for both tools (jobs.stylize.choose_runtime), not a copy that may drift."""
  asked = []
  choose = stylize_job.choose_runtime
  monkeypatch.setattr(stylize_job, "choose_runtime",
                      lambda job: asked.append(job) or choose(job))
  choice = contact_sheet_job.run(Job(model=keras_model_path, inputs=[photo], device="cpu",
                                     output=str(tmp_path / "sheet.png"), runtime="tf"))
  [job] = asked
  assert (job.model, job.device, job.runtime) == (keras_model_path, "cpu", "tf")
  assert choice == choose(job)
