"""The colours a class or a pattern is drawn in, on the app's maps and in the printed reports.

Pure: one table each, so that a township's class looks the same on screen and on paper.
"""

from __future__ import annotations

# The monthly classes in colours told apart by every kind of colour vision (Okabe and Ito's
# palette): governance-class dark red, early warning orange, rectification reddish purple,
# improving sky blue, advanced blue (early warning and rectification were two near-identical
# pinks, and red against green is what most colour-blind readers cannot tell).
LABEL_COLOURS = {
    "governance": "#b2182b", "early_warning": "#e69f00", "rectification": "#cc79a7", "improving": "#56b4e9",
    "advanced": "#0072b2", "watch": "#999999", "none": "#f0f0f0",
}
# ArcGIS's Emerging Hot Spot Analysis colours, hot patterns in reds, cold ones in blues.
EMERGING_COLOURS = {
    "new hot spot": "#8b0000", "consecutive hot spot": "#e31a1c", "intensifying hot spot": "#fc4e2a",
    "persistent hot spot": "#fd8d3c", "diminishing hot spot": "#fed976", "sporadic hot spot": "#f4a6c8",
    "oscillating hot spot": "#c51b7d", "historical hot spot": "#b8860b",
    "new cold spot": "#08306b", "consecutive cold spot": "#2171b5", "intensifying cold spot": "#4292c6",
    "persistent cold spot": "#6baed6", "diminishing cold spot": "#c6dbef", "sporadic cold spot": "#9e9ac8",
    "oscillating cold spot": "#54278f", "historical cold spot": "#737373",
}
