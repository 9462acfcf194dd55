"""README.md and docs/*.md show commands that run as written, as far as parsing goes.

Every `fastchi COMMAND --flag ...` they show (in code blocks and in inline code) names a
command that exists and only flags that command defines; every `python -m experiments...`
names a module that exists, with flags its experiment takes; every `make TARGET` a target of
the Makefile. Nothing is run: each command's flags are read from its module, imported in a
subprocess of its own, as `fastchi COMMAND` imports it (absl's flags are global, and two
commands define some of the same names).
"""

import functools
import glob
import importlib
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys

from fastchi_tf import commands

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = ([os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
        + [os.path.join(ROOT, "BUILD.md"), os.path.join(ROOT, "experiments", "README.md")])
# Flags that every command takes without defining them: absl's and cli.run's.
COMMON = {"help", "helpfull", "helpshort", "version", "flagfile"}

_PROBE = """
import importlib, json, sys
from absl import flags
from fastchi_tf import commands
importlib.import_module(f"fastchi_tf.commands.{commands.COMMANDS[sys.argv[1]][0]}")
print(json.dumps({name: isinstance(flags.FLAGS[name], flags.BooleanFlag)
                  for name in flags.FLAGS}))
"""


def command_lines(text):
  """The shell command lines of a markdown text: code blocks' lines (continuations joined)
  and inline code, each split at `&&`, `;` and `|`."""
  fence = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
  lines = []
  for language, block in fence.findall(text):
    if language in ("", "sh", "bash", "shell"):
      lines += block.replace("\\\n", " ").splitlines()
  inline = fence.sub("", text)
  lines += [span.replace("\n", " ") for span in re.findall(r"`([^`]+)`", inline)]
  parts = []
  for line in lines:
    try:
      tokens = shlex.split(line, comments=True)
    except ValueError:  # not shell (a Python line, a table's text)
      continue
    part = []
    for token in tokens + ["&&"]:
      if token in ("&&", ";", "|", "||"):
        if part:
          parts.append(part)
        part = []
      else:
        part.append(token)
  return parts


def shown_commands():
  """{(kind, name): [(file, tokens after the name)]} of the fastchi, experiments and make
  commands that the documents show; kind is "fastchi", "python" or "make"."""
  found = {}
  for path in DOCS:
    with open(path) as f:
      text = f.read()
    where = os.path.relpath(path, ROOT)
    for tokens in command_lines(text):
      head, rest = tokens[0], tokens[1:]
      if os.path.basename(head) == "fastchi" and rest and not rest[0].isupper():
        key = ("fastchi", "" if rest[0].startswith("-") else rest[0])
        args = rest if rest[0].startswith("-") else rest[1:]
      elif os.path.basename(head) == "python" and rest[:1] == ["-m"] and len(rest) > 1:
        if not rest[1].startswith("experiments.") or "KIND" in rest[1] or "NAME" in rest[1]:
          continue
        key, args = ("python", rest[1]), rest[2:]
      elif head == "make" and rest:
        key, args = ("make", rest[0]), rest[1:]
      else:
        continue
      found.setdefault(key, []).append((where, args))
  return found


def flags_used(args):
  """[(flag name as written, the token after it or None)] of one command's arguments."""
  used = []
  for i, token in enumerate(args):
    if token.startswith("--") and len(token) > 2:
      name, has_value, _ = token[2:].partition("=")
      following = None if has_value else (args[i + 1] if i + 1 < len(args) else None)
      used.append((name, "=" if has_value else following))
  return used


@functools.lru_cache(maxsize=None)
def command_flags(names):
  """{command: {flag: is boolean}} of each of `names`, the probes running side by side."""
  probes = {name: subprocess.Popen([sys.executable, "-c", _PROBE, name], cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for name in names}
  defined = {}
  for name, probe in probes.items():
    out, err = probe.communicate(timeout=120)
    assert probe.returncode == 0, f"fastchi {name} does not import: {err[-2000:]}"
    defined[name] = json.loads(out.strip().splitlines()[-1])
  return defined


def wrong_flags(used, defined):
  """The problems of `used` flags against {flag: is boolean}: unknown, or missing a value."""
  problems = []
  for name, following in used:
    if name in COMMON:
      continue
    if name.startswith("no") and defined.get(name[2:]) is True:
      continue
    if name not in defined:
      problems.append(f"--{name} is not a flag of the command")
    elif not defined[name] and (following is None or following.startswith("--")):
      problems.append(f"--{name} takes a value and none follows")
  return problems


def test_the_documents_show_commands():
  shown = shown_commands()
  assert len([key for key in shown if key[0] == "fastchi"]) >= 6  # the extraction works
  assert ("make", "demo") in shown and ("make", "test") in shown
  assert ("python", "experiments.paper.render_ablation") in shown


def test_every_fastchi_command_shown_parses():
  shown = {key[1]: uses for key, uses in shown_commands().items() if key[0] == "fastchi"}
  unknown = sorted(name for name in shown if name and name not in commands.COMMANDS)
  assert not unknown, f"commands the documents show that fastchi does not have: {unknown}"
  with_flags = {name for name, uses in shown.items() if name and any(
      flags_used(args) for _, args in uses)}  # `fastchi demo` alone needs no probe
  defined = command_flags(tuple(sorted(with_flags)))
  problems = []
  for name, uses in shown.items():
    for where, args in uses:
      for problem in wrong_flags(flags_used(args), defined.get(name, {})):
        problems.append(f"{where}: fastchi {name} {' '.join(args)}: {problem}")
  assert not problems, "\n".join(problems)


def test_every_experiment_command_shown_parses():
  from experiments.lib import readme  # pylint: disable=g-import-not-at-top
  from experiments.lib import runner  # pylint: disable=g-import-not-at-top
  problems = []
  for (kind, module_name), uses in shown_commands().items():
    if kind != "python":
      continue
    if importlib.util.find_spec(module_name) is None:
      problems.append(f"no module {module_name}")
      continue
    name = module_name.rsplit(".", 1)[-1]
    if module_name.startswith("experiments.lib."):
      continue  # a helper's command (the README generator), not an experiment
    if readme.KIND.get(name) is None or readme.module_name(name) != module_name:
      problems.append(f"{module_name} is not an experiment of experiments/KIND/")
      continue
    module = importlib.import_module(module_name)
    defined = {"quick": True, "report_only": True, "out_dir": False}
    defined.update({flag: kind_ is bool
                    for flag, (kind_, _) in runner.flag_fields(module.Config).items()})
    for where, args in uses:
      for problem in wrong_flags(flags_used(args), defined):
        problems.append(f"{where}: python -m {module_name} {' '.join(args)}: {problem}")
  assert not problems, "\n".join(problems)


def test_every_make_target_shown_exists():
  with open(os.path.join(ROOT, "Makefile")) as f:
    targets = set(re.findall(r"^([\w-]+):", f.read(), re.M))
  shown = {key[1] for key in shown_commands() if key[0] == "make"}
  assert shown - targets == set(), f"make targets the documents show: {sorted(shown)}"


def test_the_readme_train_table_names_train_flags():
  with open(os.path.join(ROOT, "README.md")) as f:
    text = f.read()
  section = text[text.index("## Train a style\n"):]
  section = section[:section.index("\n## ")]
  named = set(re.findall(r"^\| `--(\w+)`", section, re.M))
  named |= set(re.findall(r"^\| `--\w+`(?:, `--(\w+)`)", section, re.M))
  named |= set(re.findall(r"^\| `--\w+`, `--\w+`, `--(\w+)`", section, re.M))
  assert len(named) >= 10
  assert named <= set(command_flags(("train",))["train"]), named


def test_the_checker_catches_a_wrong_flag_and_a_missing_value():
  # The test above would pass on documents it cannot read; this one keeps it honest.
  defined = {"style": False, "tflite": True}
  assert wrong_flags(flags_used(["--stlye", "wave"]), defined) == [
      "--stlye is not a flag of the command"]
  assert wrong_flags(flags_used(["--style", "--tflite"]), defined) == [
      "--style takes a value and none follows"]
  assert wrong_flags(flags_used(["--notflite", "--style=wave", "--help"]), defined) == []
  parts = command_lines("```sh\nfastchi export --model_dir r \\\n    --tflite  # note\n```\n"
                        "and `cat a | fastchi stylize\n--input -`")
  assert ["fastchi", "export", "--model_dir", "r", "--tflite"] in parts
  assert ["fastchi", "stylize", "--input", "-"] in parts


def _anchors(path):
  """GitHub's anchors of a markdown file's headings: lower case, punctuation dropped, spaces
  to hyphens."""
  with open(path) as f:
    headings = re.findall(r"^#+ (.+)$", fence_free(f.read()), re.M)
  return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def fence_free(text):
  return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def test_every_link_of_the_documents_leads_somewhere():
  problems = []
  for path in DOCS:
    with open(path) as f:
      text = fence_free(f.read())
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
      if re.match(r"\w+://", target):
        continue
      file_part, _, anchor = target.partition("#")
      linked = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part \
          else path
      if not os.path.exists(linked):
        problems.append(f"{os.path.relpath(path, ROOT)}: {target}: no such file")
      elif anchor and linked.endswith(".md") and anchor not in _anchors(linked):
        problems.append(f"{os.path.relpath(path, ROOT)}: {target}: no such heading")
  assert not problems, "\n".join(problems)


README_SECTIONS = ("Install", "Quickstart", "Mixes and strength", "Train a style",
                   "Export and stylize", "Video", "The web page", "Results at a glance",
                   "Reproducing the paper", "Layout and development", "Licence and citation")


def test_the_readme_is_a_short_guide_with_every_section():
  # Issue 34's user guide: at most about 200 lines, the detail in docs/.
  with open(os.path.join(ROOT, "README.md")) as f:
    text = f.read()
  assert len(text.splitlines()) <= 200
  headings = re.findall(r"^## (.+)$", fence_free(text), re.M)
  missing = [s for s in README_SECTIONS if not any(h.startswith(s) for h in headings)]
  assert not missing, missing
  assert "](docs/gallery.jpg)" in text.split("\n## ")[0]  # what it is, with the gallery
  results = text[text.index("## Results at a glance\n"):]
  results = results[:results.index("\n## ")]
  assert len(re.findall(r"^\|.*\]\(experiments/results/\w+/report\.md\)", results, re.M)) == 5
