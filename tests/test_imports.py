"""The package's import graph, in-function imports included: no circle, no upward import.

Floors, top down: the commands (and `python -m fastchi_tf`), which turn flags into jobs;
the jobs (fastchi_tf.jobs), the commands' work as library functions; the library; the light
ground floor, which never imports TensorFlow and knows nothing above it. A module imports
its own floor or lower ones, and no chain of imports comes back.
"""

import ast
import os

import fastchi_tf

PACKAGE_DIR = os.path.dirname(os.path.abspath(fastchi_tf.__file__))
TOP, JOBS, LIBRARY, GROUND = 3, 2, 1, 0


def floor(module):
  """The package itself (imported before any of its modules; its lazy attributes are
  strings) and fastchi_tf.light are the ground floor."""
  if module == "fastchi_tf.__main__" or module.startswith("fastchi_tf.commands"):
    return TOP
  if module.startswith("fastchi_tf.jobs"):
    return JOBS
  if module == "fastchi_tf" or module.startswith("fastchi_tf.light"):
    return GROUND
  return LIBRARY


def modules():
  """{dotted name: path} of every module in the package."""
  found = {}
  for folder, _, files in os.walk(PACKAGE_DIR):
    for name in files:
      if name.endswith(".py"):
        path = os.path.join(folder, name)
        parts = ["fastchi_tf"] + os.path.relpath(path[:-3], PACKAGE_DIR).split(os.sep)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
  return found


def imports(module, path, known):
  """The package's modules that `module` imports anywhere in its file."""
  package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
  with open(path) as f:
    tree = ast.parse(f.read(), path)
  found = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      found.update(alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        parts = package.split(".")[:len(package.split(".")) - node.level + 1]
        base = ".".join(parts + [base] if base else parts)
      for alias in node.names:
        full = f"{base}.{alias.name}"
        found.add(full if full in known else base)
  return {name for name in found if name in known and name != module}


def graph():
  known = modules()
  return {module: imports(module, path, known) for module, path in known.items()}


def test_the_graph_is_read_whole():
  edges = graph()
  assert {"fastchi_tf.cli", "fastchi_tf.commands.stylize",
          "fastchi_tf.light.lite"} <= edges.keys()
  assert "fastchi_tf.light.io_utils" in edges["fastchi_tf.light.lite"]  # a top-level import
  assert "fastchi_tf.render_net" in edges["fastchi_tf.stylizers"]  # one inside a function
  assert "fastchi_tf.jobs.stylize" in edges["fastchi_tf.commands.stylize"]
  assert floor("fastchi_tf.jobs.stylize") == JOBS


def test_no_module_imports_a_higher_floor():
  upward = sorted(f"{module} -> {target}" for module, targets in graph().items()
                  for target in targets if floor(target) > floor(module))
  assert not upward, upward


def test_no_import_circle():
  edges = graph()
  state = {}  # module: "open" while on the path, "done" after

  def visit(module, path):
    state[module] = "open"
    for target in sorted(edges[module]):
      if state.get(target) == "open":
        circle = path[path.index(target):] + [target]
        raise AssertionError("import circle: " + " -> ".join(circle))
      if target not in state:
        visit(target, path + [target])
    state[module] = "done"

  for module in sorted(edges):
    if module not in state:
      visit(module, [module])


def test_the_run_folder_and_the_resume_checks_sit_below_the_trainer():
  """run_folder imports the light floor alone (`fastchi info RUN` reads its history without
  TensorFlow); config checks the run's file names against its inputs, resume_checks compares
  configs, and train_lib uses both."""
  edges = graph()
  assert floor("fastchi_tf.run_folder") == floor("fastchi_tf.resume_checks") == LIBRARY
  assert {floor(target) for target in edges["fastchi_tf.run_folder"]} == {GROUND}
  assert "fastchi_tf.run_folder" in edges["fastchi_tf.config"]
  assert {"fastchi_tf.config", "fastchi_tf.run_folder"} <= edges["fastchi_tf.resume_checks"]
  assert {"fastchi_tf.run_folder", "fastchi_tf.resume_checks"} <= edges["fastchi_tf.train_lib"]


def test_the_train_flags_are_a_commands():
  """Made from config's fields and read back into a config: flag code, so a command's."""
  edges = graph()
  assert floor("fastchi_tf.commands.train_flags") == TOP
  assert "fastchi_tf.commands.train_flags" in edges["fastchi_tf.commands.train"]
