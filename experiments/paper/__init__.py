"""The FastChi paper's figures and tables, and the sweeps that extend them.

Render networks (render_ablation, model_table), loss networks (loss_networks), the reader
(reading_speed), devices (device_scaling), the temporal term (temporal_stability) and many
styles in one network (multi_style). python -m experiments.paper.NAME.
"""
