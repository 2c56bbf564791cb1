"""The supervisor's dashboard: figures, chart series and tables over a period.

- access: who may see it, and the units their figures cover;
- periods: the period chosen on the page;
- figures: the SQL aggregates, a fixed number of queries whatever the data;
- presentation: the records the page reads, links into the work-order list, chart series;
- cache: the figures kept for a minute and refreshed by a worker;
- export: the figures and tables as a workbook.
"""
