"""Thin views: each reads its form, calls analytics/campaigns/serving, renders figures."""
