"""The styles experiment's flags resolved against a recipe (no training)."""

import pytest

from experiments.shipped import styles


def test_a_recipe_brings_its_own_temporal_weight_unless_the_flag_gives_one():
  cfg = styles.recipe_config(styles.Config(recipe="affine16", ship=False, part_steps=7))
  assert cfg.temporal_weight == styles.AFFINE16.temporal_weight != styles.FULL.temporal_weight
  assert (cfg.width, cfg.part_steps, cfg.trunk_norm) == (16, 7, "affine")
  given = styles.recipe_config(styles.Config(recipe="affine16", ship=False,
                                             temporal_weight=0.0))
  assert given.temporal_weight == 0.0
  assert styles.recipe_config(styles.Config(recipe="affine")).temporal_weight == 3000.0


def test_only_the_recipes_own_temporal_weight_is_shipped():
  assert styles.recipe_config(styles.Config(recipe="affine16")).ship  # its own: shipped
  with pytest.raises(ValueError, match="--temporal_weight 0 trains a control run"):
    styles.recipe_config(styles.Config(recipe="affine16", temporal_weight=0.0))
  with pytest.raises(ValueError, match="--temporal_weight 100 trains a control run"):
    styles.recipe_config(styles.Config(temporal_weight=100.0))
  with pytest.raises(ValueError, match="--recipe nope: choose one of"):
    styles.recipe_config(styles.Config(recipe="nope"))


def _results(recipe, parts, restarted):
  return {"config": {"recipe": recipe}, "parts": parts, "restarted": restarted}


def test_a_part_lists_the_same_recipes_earlier_parts_and_where_it_restarted():
  cfg = styles.recipe_config(styles.Config(recipe="swd16", train=False))
  before = _results("swd16", [{"from": 2300, "to": 2900, "image_size": 128}],
                    {"step": 2300, "from": "model.keras"})
  parts, restarted = styles.earlier_parts(before, cfg, 3100)  # 2900-3100 stopped by Ctrl-C
  assert [(p["from"], p["to"], p["image_size"]) for p in parts] == [(2300, 2900, 128),
                                                                     (2900, 3100, 256)]
  assert restarted == {"step": 2300, "from": "model.keras"}


def test_another_recipes_results_in_the_folder_are_not_this_runs_parts():
  cfg = styles.recipe_config(styles.Config(recipe="swd16", train=False))
  shipped_before = _results("affine16", [{"from": 2100, "to": 2300, "image_size": 256}],
                            {"step": 0, "from": "student.keras"})
  assert styles.earlier_parts(shipped_before, cfg, 4000) == ([], None)
  assert styles.earlier_parts({}, cfg, 4000) == ([], None)


def test_the_s256_recipe_goes_on_from_swd16s_end_with_the_painting_at_256_px():
  cfg = styles.recipe_config(styles.Config(recipe="swd16_s256", ship=False))
  assert styles.stage_of(cfg, 3999) == (4000, 256, 512)  # swd16's last stage, as shipped
  assert styles.stage_of(cfg, 4000) == (5000, 256, 256)
  assert (cfg.style_statistic, cfg.temporal_weight) == ("swd", styles.SWD16.temporal_weight)
  assert "swd16_s256" in styles.RESTARTED


def test_the_ghiasi_recipe_trains_the_peers_objective_from_the_shipped_network(tmp_path):
  cfg = styles.recipe_config(styles.Config(recipe="ghiasi16", ship=False))
  assert styles.stage_of(cfg, 4000) == (5500, 128, 128)  # the painting as large as the crop
  assert styles.stage_of(cfg, 5500) == (7000, 256, 256)
  tcfg = styles.train_config(cfg, str(tmp_path), str(tmp_path), styles.stage_of(cfg, 4000))
  assert (tcfg.loss.style_layer_norm, tcfg.loss.style_statistic) == ("positions", "gram")
  assert (tcfg.loss.tv_weight, tcfg.loss.style_weight) == (0.077, 5e-3)
  assert tuple(tcfg.loss_net.content_layers) == ("relu3_3",)
  assert tuple(tcfg.loss_net.style_layers) == styles.JOHNSON_STYLE
  assert tcfg.temporal.weight == 6e5 and "ghiasi16" in styles.RESTARTED
  # The earlier recipes keep the default TV weight they were trained with.
  swd = styles.recipe_config(styles.Config(recipe="swd16", ship=False))
  assert styles.train_config(swd, str(tmp_path), str(tmp_path),
                             styles.stage_of(swd, 3000)).loss.tv_weight == 1e-4
