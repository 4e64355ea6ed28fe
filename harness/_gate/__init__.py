"""The steps of one gate run, behind :func:`harness.pipeline.run_gate` (glue: may import
anything in harness).

- ``keys``: where results are stored and the one function that builds a result key;
- ``scoring``: step lines on the console and scoring a variant through the result store;
- ``pool``: the in-memory models (one per base quantisation and adapter type);
- ``variants``: quantised bases, candidates (train or load, attach, score), merged LoRAs;
  ``score_as_shipped`` attaches and scores any adapter as it was shipped (own tokenizer,
  resized base), candidates and champions alike;
- ``champion``: the adapter each release candidate must not be worse than (registry or
  directory), scored on this base or, across bases, on its own;
- ``plan``: the power plan of an experiment before anything is scored (``harness plan``);
- ``record``: the typed summary.json (``harness.report.GateSummary``) of a run;
- ``payload``: what a run logs to MLflow.
"""
