"""Code that also runs inside a registered version's own process, loaded there by path: it
imports nothing of housing_core (a lint rule keeps it so), only numpy and pandas."""
