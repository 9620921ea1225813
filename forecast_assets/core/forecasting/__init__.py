"""Forecasting: the long forecast table, backtest cutoffs, Chronos-2 and the statsforecast baselines."""
