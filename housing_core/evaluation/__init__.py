"""The evaluation wing: held-out metrics, the gates they are checked against, importance.

Used by training (registration gates) and promotion (promotion gates on the shared rows). It
scores any fitted estimator through its `predict`, so it imports nothing of the model wing.
"""
