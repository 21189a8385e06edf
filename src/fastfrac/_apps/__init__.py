"""What runs behind a subcommand or the ``[demo]`` extra, on top of everything else.

- :mod:`~fastfrac._apps.demo` and :mod:`~fastfrac._apps.demo_plot`: ``fastfrac demo``;
- :mod:`~fastfrac._apps.bench`: ``fastfrac bench``;
- :mod:`~fastfrac._apps.reference_timing`: the pure-Python loop the kernel replaces,
  timed on the same weights.

Nothing below :mod:`fastfrac.cli` imports from here.
"""
