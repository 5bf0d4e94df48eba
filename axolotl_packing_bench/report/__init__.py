"""The report: what is rendered from results (pure).

- `leaderboard`: results -> the markdown board, grouped like the paper's tables.
- `compare`: the regression gate between two results files.
- `sweep`: the size sweep's series with intervals, and its figure.
- `reliance_experiment`: the reliance experiment's report across seeds.
"""
