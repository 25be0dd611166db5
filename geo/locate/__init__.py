"""Stage 2, locate: an H3 cell, a township and a district for every complaint.

Pure: ``cells`` (H3 and the per-cell township table), ``coords`` (WGS84, GCJ-02, BD-09),
``gazetteer`` (addresses by place names), ``geometry``, ``jurisdictions`` (read and check
boundary files). Database: ``jurisdictions_db`` (versioned boundary sets), ``boundaries_db``
(the sets complaints are located against, with their cell tables).
"""
