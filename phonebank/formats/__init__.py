"""Number formats that differ from Django's own for our languages (FORMAT_MODULE_PATH).

Django's formats for zh_Hans and zh_Hant have no thousands separator (and group digits in
fours), so a count reads 3373617 in Chinese and 3,373,617 in English, while the charts
(pygal) show 3,373,617 in every language. Mainland and Taiwanese usage commonly group by three
with a comma in figures like these. Everything else comes from Django's modules.
"""
