"""Stage 4, act: whistle calls, the monthly ranking, remediation projects, reports and users.

Each concern has a pure module (rules, states and arithmetic) beside a ``*_db`` module that reads
and writes PostGIS: ``whistle``, ``governance``, ``projects``, ``reports``, ``users``,
``categories`` (the shipped taxonomy).
"""
