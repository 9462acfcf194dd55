"""What the experiment scripts share (their one main, timing, reporting); none is an
experiment."""
