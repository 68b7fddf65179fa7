"""Is a fact field's value of the field's kind? A colour a colour word, a size a size, a price a price.

The faithfulness gate (``engines.summarize.faithfulness``) checks that a value occurs in the speech;
a small model still puts a spoken number into ``color`` or the size run into ``material``. These
checks use generic vocabularies only (the CSS/X11 colour names, basic Chinese colour terms, common
units, currencies, promo phrases and materials), in the languages the prompt supports (en, zh).

- colour: every word is a colour word, a shade modifier or a connector, and one is a colour;
- size: every word is a letter size, a size word, a number, a length / volume / weight unit or a
  connector, and one is not a connector; a bare number (no unit) only up to 60, as clothing and shoe
  sizes are; a region (``eu``, ``us``, ``it``) or ``free`` / ``one`` only beside a size (``"eu 42"``,
  ``"free size"``); no currency, no number sign (``"#5"``); capacity, power and resolution units (GB,
  mAh, W, MP) are specs, not sizes (``"s m l xl xxl"``, ``"28 cm"``, ``"large"``, ``"二十八厘米"``);
- price: a number with a currency, a number with a promo word (``"ten percent off"``, ``"only 9.99"``),
  or a promo phrase that is a price on its own (``"free shipping"``, ``"half price"``, ``"包邮"``); a promo
  word alone (``"only"``, ``"price"``, ``"gift"``, ``"code"``) is not;
- material: a material term, and at least half of the words are material terms or modifiers.
"""

from __future__ import annotations

import re

from engines.summarize.lexicon import COLOR_ZH_PATTERN, MATERIALS_EN, MATERIALS_ZH

KINDS = ("color", "material", "size", "price")

_WORD = re.compile(r"[a-z]+|\d+(?:[.,]\d+)?|[\u4e00-\u9fff]")
_LATIN_WORD = re.compile(r"[a-z]+|\d+(?:[.,]\d+)?")

# CSS Color Module 4 named colours (the X11 set) plus the basic and fashion terms they lack.
CSS_COLORS = frozenset(["aliceblue", "antiquewhite", "aqua", "aquamarine", "azure", "beige", "bisque", "black", "blanchedalmond", "blue", "blueviolet", "brown", "burlywood", "cadetblue", "chartreuse", "chocolate", "coral", "cornflowerblue", "cornsilk", "crimson", "cyan", "darkblue", "darkcyan", "darkgoldenrod", "darkgray", "darkgreen", "darkgrey", "darkkhaki", "darkmagenta", "darkolivegreen", "darkorange", "darkorchid", "darkred", "darksalmon", "darkseagreen", "darkslateblue", "darkslategray", "darkslategrey", "darkturquoise", "darkviolet", "deeppink", "deepskyblue", "dimgray", "dimgrey", "dodgerblue", "firebrick", "floralwhite", "forestgreen", "fuchsia", "gainsboro", "ghostwhite", "gold", "goldenrod", "gray", "grey", "green", "greenyellow", "honeydew", "hotpink", "indianred", "indigo", "ivory", "khaki", "lavender", "lavenderblush", "lawngreen", "lemonchiffon", "lightblue", "lightcoral", "lightcyan", "lightgoldenrodyellow", "lightgray", "lightgreen", "lightgrey", "lightpink", "lightsalmon", "lightseagreen", "lightskyblue", "lightslategray", "lightslategrey", "lightsteelblue", "lightyellow", "lime", "limegreen", "linen", "magenta", "maroon", "mediumaquamarine", "mediumblue", "mediumorchid", "mediumpurple", "mediumseagreen", "mediumslateblue", "mediumspringgreen", "mediumturquoise", "mediumvioletred", "midnightblue", "mintcream", "mistyrose", "moccasin", "navajowhite", "navy", "oldlace", "olive", "olivedrab", "orange", "orangered", "orchid", "palegoldenrod", "palegreen", "paleturquoise", "palevioletred", "papayawhip", "peachpuff", "peru", "pink", "plum", "powderblue", "purple", "rebeccapurple", "red", "rosybrown", "royalblue", "saddlebrown", "salmon", "sandybrown", "seagreen", "seashell", "sienna", "silver", "skyblue", "slateblue", "slategray", "slategrey", "snow", "springgreen", "steelblue", "tan", "teal", "thistle", "tomato", "turquoise", "violet", "wheat", "white", "whitesmoke", "yellow", "yellowgreen"])
EXTRA_COLORS = frozenset(["amber", "apricot", "aubergine", "blush", "bronze", "burgundy", "camel", "caramel", "champagne", "charcoal", "cherry", "cobalt", "copper", "cream", "denim", "ecru", "emerald", "fawn", "jade", "lilac", "mauve", "mint", "mocha", "mustard", "nude", "ochre", "peach", "pewter", "rose", "ruby", "rust", "sapphire", "scarlet", "sepia", "taupe", "terracotta", "topaz", "vermilion", "wine", "multicolor", "multicolour", "multicolored", "colorful", "colourful", "rainbow", "transparent", "clear", "camo", "camouflage", "neon", "metallic", "pastel", "gunmetal", "graphite", "platinum"])
COLORS = CSS_COLORS | EXTRA_COLORS
# the words CSS compounds are made of (dark, sky, slate, ...) and shade / finish modifiers
_COLOR_PARTS = frozenset(p for c in CSS_COLORS for p in re.findall(
    r"light|dark|medium|pale|deep|hot|sky|sea|slate|steel|royal|midnight|forest|spring|lawn|dodger|misty|olive|"
    r"navajo|ghost|floral|antique|old|indian|rosy|sandy|saddle|powder|cadet|corn|flower|rebecca|lemon|chiffon|"
    r"cream|smoke|dim|fire|brick|lime|orange|violet|blue|green|red|gray|grey|white|yellow|pink|purple|brown", c))
_SHADES = frozenset(["light", "dark", "deep", "pale", "bright", "soft", "matte", "matt", "glossy", "shiny", "metallic", "pastel", "neon", "muted", "dusty", "vivid", "rich", "baby", "sky", "navy", "rose", "royal", "hot", "off", "jet", "pure", "true", "classic", "warm", "cool", "ice", "icy", "frosted", "clear", "solid", "two", "tone", "tones", "color", "colour", "colors", "colours", "and", "or", "with", "in", "plus", "ish", "y"])
_CONNECTORS = frozenset(["and", "or", "with", "to", "from", "in", "plus", "x", "by", "of", "per"])
_ZH_CONNECTORS = re.compile(r"[和与或及、/,，;；\s&+]+|还有|以及|跟|配")
ZH_COLOR_WORDS = ("卡其", "香槟", "玫瑰", "咖啡", "橄榄", "薄荷", "象牙", "藏青", "宝蓝", "天蓝", "湖蓝", "孔雀",
                  "军绿", "酒红", "枣红", "砖红", "姜黄", "土黄", "奶白", "米白", "乳白", "象牙白", "透明", "彩色",
                  "多色", "荧光", "迷彩", "玫红", "桃红", "珊瑚", "琥珀", "钴蓝", "雾霾", "焦糖", "古铜")
_ZH_HUES = "红橙黄绿青蓝紫黑白灰粉棕褐米金银咖杏驼赭靛藕栗橘桔"
_ZH_SHADES = "浅深亮淡暗奶雾墨纯哑光色系款的"
_ZH_COLOR_RE = re.compile(COLOR_ZH_PATTERN)

LETTER_SIZES = frozenset(["xxs", "xs", "s", "m", "l", "xl", "xxl", "xxxl", "xxxxl", "2xl", "3xl", "4xl", "5xl", "2xs", "3xs", "os"])
REGIONS = frozenset(["eu", "us", "uk", "cn", "jp", "it", "fr", "intl"])
#: size words that say nothing alone: a region, "free", "one", "size" ... need a size beside them
_SIZE_QUALIFIERS = REGIONS | frozenset(["free", "one", "size", "sizes", "sized", "fit", "extra", "plus", "waist", "length",
                                        "height", "width", "depth", "diameter", "kids", "kid", "adult", "youth", "junior"])
_WHOLE_SIZES = frozenset(["free size", "one size", "one size fits all", "freesize", "onesize"])
MAX_BARE_SIZE = 60  # EU shoe and numeric clothing sizes stay below it; a larger bare number is a count or a price
#: capacity, power, frequency and resolution units: a spec of the product, not its size
SPEC_UNITS = frozenset(["gb", "tb", "mb", "kb", "mah", "w", "watt", "watts", "kw", "v", "volt", "volts", "hz", "khz", "mhz",
                        "ghz", "mp", "px", "p", "k", "terabyte", "terabytes", "gigabyte", "gigabytes", "megabyte", "megabytes"])
SIZE_WORDS = frozenset(["small", "medium", "large", "big", "mini", "tiny", "huge", "oversized", "regular", "standard", "petite", "plus", "slim", "wide", "narrow", "long", "short", "tall", "compact", "full", "twin", "queen", "king", "single", "double", "travel", "extra", "one", "free", "size", "sizes", "sized", "fit", "kids", "kid", "adult", "youth", "junior", "eu", "us", "uk", "cn", "jp", "it", "fr", "intl", "waist", "length", "height", "width", "depth", "diameter", "thick", "thin", "deep", "high"])
UNITS = frozenset(["mm", "cm", "m", "km", "in", "inch", "inches", "ft", "foot", "feet", "yd", "yard", "yards", "ml", "l", "liter", "liters", "litre", "litres", "cl", "dl", "oz", "fl", "floz", "qt", "quart", "quarts", "gal", "gallon", "gallons", "pt", "pint", "pints", "g", "gram", "grams", "kg", "kilo", "kilos", "kilogram", "kilograms", "lb", "lbs", "pound", "pounds", "mg", "gb", "tb", "mb", "kb", "mah", "w", "watt", "watts", "kw", "v", "volt", "volts", "hz", "khz", "mhz", "ghz", "mp", "px", "p", "k", "cc", "millimeter", "millimeters", "centimeter", "centimeters", "meter", "meters", "metre", "metres", "ounce", "ounces", "terabyte", "terabytes", "gigabyte", "gigabytes", "megabyte", "megabytes"])
NUMBER_WORDS = frozenset(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety", "hundred", "thousand", "million", "half", "quarter", "point", "dozen"])
_ZH_DIGITS = "零〇一二两三四五六七八九十百千万亿半几"
_ZH_SIZE_UNITS = ("厘米", "毫米", "公分", "英寸", "寸", "米", "毫升", "升", "千克", "公斤", "克", "斤", "码", "号", "尺",
                  "瓦", "伏", "毫安", "平方", "立方")
_ZH_SIZE_WORDS = ("均码", "大号", "中号", "小号", "加大", "特大", "超大", "迷你", "加长", "标准", "大", "中", "小", "长",
                  "宽", "高", "厚", "直径", "尺寸", "尺码", "从", "到", "至", "加")
CURRENCY = frozenset(["dollar", "dollars", "buck", "bucks", "cent", "cents", "usd", "euro", "euros", "eur", "pound", "pounds", "gbp", "yen", "jpy", "yuan", "rmb", "cny", "rupee", "rupees", "won"])
_CURRENCY_SIGNS = re.compile(r"[$€£¥￥₹₩]")
_ZH_CURRENCY = ("元", "块", "块钱", "毛", "角", "人民币", "美元", "美金")
PROMO_EN = ("off", "discount", "sale", "deal", "deals", "free shipping", "shipping", "coupon", "code", "promo",
            "bogo", "buy one get one", "half price", "clearance", "percent", "%", "save", "bundle", "gift",
            "limited", "flash", "cheaper", "price", "priced", "only", "special", "offer")
PROMO_ZH = ("包邮", "买一送一", "拍一发二", "立减", "折", "优惠", "秒杀", "限时", "满减", "送", "赠", "原价", "特价",
            "券", "现价", "到手", "价", "两件", "第二件", "半价", "免单", "福利", "活动")
#: promo phrases that are a price on their own (the words above need a number beside them)
PROMO_EN_WHOLE = ("free shipping", "half price", "bogo", "buy one get one", "two for one", "clearance sale", "percent off",
                  "% off", "half off")
PROMO_ZH_WHOLE = ("包邮", "买一送一", "拍一发二", "秒杀", "满减", "半价", "免单", "特价", "第二件半价")
MATERIALS_EN_EXTRA = (
    "metal", "steel", "iron", "brass", "bronze", "zinc", "alloy", "chrome", "gold", "silver", "platinum", "tin",
    "oak", "pine", "walnut", "maple", "teak", "birch", "cherry wood", "mahogany", "plywood", "mdf", "rattan",
    "wicker", "cork", "jute", "hemp", "sisal", "bamboo", "paper", "cardboard", "kraft", "stone", "granite", "slate",
    "quartz", "concrete", "clay", "terracotta", "stoneware", "earthenware", "enamel", "crystal", "resin", "epoxy",
    "abs", "pvc", "pu", "tpe", "tpu", "eva", "pp", "pe", "pet", "polycarbonate", "polypropylene", "polyethylene",
    "vinyl", "latex", "foam", "memory foam", "gel", "carbon fiber", "carbon fibre", "fiberglass", "microfiber",
    "microfibre", "feather", "fur", "faux fur", "faux leather", "vegan leather", "pleather", "tweed", "flannel",
    "corduroy", "jersey", "knit", "viscose", "rayon", "modal", "lyocell", "tencel", "acetate", "elastane", "lycra",
    "merino", "alpaca", "mohair", "angora", "chambray", "twill", "oxford", "poplin", "organza", "tulle", "felt",
    "neoprene", "gore-tex", "polyurethane", "melamine", "borosilicate", "tempered glass", "wax", "soy wax",
    "beeswax", "pearl", "diamond", "gemstone", "sterling", "wood", "leather", "cotton", "polyester", "plastic",
    "water based", "water-based", "oil based", "oil-based",
)
MATERIALS_ZH_EXTRA = ("金属", "钢", "铁", "铜", "铝", "锌", "钛", "合金", "木", "竹", "藤", "皮", "棉", "麻", "丝", "绒",
                      "毛", "革", "布", "纸", "石", "玉", "瓷", "陶", "塑", "胶", "硅", "晶", "玻璃", "树脂", "纤维",
                      "海绵", "乳胶", "珍珠", "钻", "银", "金", "涂层", "面料", "材质", "tpe", "tpu", "abs", "pvc", "pu",
                      "eva", "pp", "pet", "pc")
_MATERIAL_MODIFIERS = frozenset(["genuine", "real", "pure", "solid", "natural", "synthetic", "faux", "vegan", "bonded", "stainless", "recycled", "organic", "premium", "soft", "hard", "full", "grain", "top", "percent", "blend", "blended", "mix", "mixed", "and", "with", "of", "lined", "coated", "brushed", "polished", "plated", "sterling", "100", "cast", "tempered", "memory", "fabric", "material", "made", "body", "shell", "upper", "lining", "frame"])
_MATERIAL_TERMS_EN = tuple(sorted({m.lower() for m in (*MATERIALS_EN, *MATERIALS_EN_EXTRA)}, key=len, reverse=True))
_MATERIAL_SET_EN = frozenset(_MATERIAL_TERMS_EN)
_MATERIAL_TERMS_ZH = tuple(sorted({*MATERIALS_ZH, *MATERIALS_ZH_EXTRA}, key=len, reverse=True))


def _latin_words(value: str) -> list[str]:
    return _LATIN_WORD.findall(value.lower())


def _number(word: str) -> bool:
    return word[0].isdigit() or word in NUMBER_WORDS


def _cjk(value: str) -> str:
    return "".join(re.findall(r"[\u4e00-\u9fff]", value))


def is_color(value: str) -> bool:
    """Every word is a colour word (CSS/X11 names, their parts, shade modifiers) and one names a colour."""
    words = _latin_words(value)
    if any(w[0].isdigit() for w in words):
        return False
    latin_ok = all(w in COLORS or w in _COLOR_PARTS or w in _SHADES for w in words)
    latin_hue = any(w in COLORS or w in _COLOR_PARTS - {"light", "dark", "medium", "pale", "deep", "hot"} for w in words)
    zh = _cjk(value)
    if not zh:
        return bool(words) and latin_ok and latin_hue
    rest = _ZH_COLOR_RE.sub("", zh)
    hue = rest != zh
    for term in ZH_COLOR_WORDS:
        hue |= term in rest
        rest = rest.replace(term, "")
    rest = _ZH_CONNECTORS.sub("", rest)
    hue |= any(c in _ZH_HUES for c in rest)
    zh_ok = all(c in _ZH_HUES or c in _ZH_SHADES for c in rest)
    return zh_ok and latin_ok and (hue or latin_hue)


def is_size(value: str) -> bool:
    """Letter sizes, size words, numbers with or without length / volume / weight units (EU/US sizes,
    dimensions), nothing else (see the module doc)."""
    low = value.lower()
    if _CURRENCY_SIGNS.search(low) or "#" in low or "%" in low:
        return False
    words = [w for w in re.split(r"[^a-z0-9.]+", low.replace("-", " ")) if w]
    if " ".join(words) in _WHOLE_SIZES:
        return True
    if any(w in CURRENCY or w in SPEC_UNITS for w in words):
        return False
    meaningful = False
    qualifiers_only = True
    for w in words:
        m = re.fullmatch(r"(\d+(?:\.\d+)?)([a-z]*)", w)
        if m and m.group(2) in SPEC_UNITS:
            return False
        if m and not m.group(2) and float(m.group(1)) > MAX_BARE_SIZE and not any(u in UNITS for u in words):
            return False  # a bare number above any clothing or shoe size (a price, a count)
        number_size = m and (not m.group(2) or m.group(2) in UNITS or m.group(2) in LETTER_SIZES or m.group(2) == "x")
        dimensions = re.fullmatch(r"\d+(?:\.\d+)?(?:x\d+(?:\.\d+)?)+[a-z]*", w)
        if number_size or dimensions or w in LETTER_SIZES or w in SIZE_WORDS:
            meaningful = True
            qualifiers_only = qualifiers_only and w in _SIZE_QUALIFIERS
        elif w in NUMBER_WORDS:
            continue  # a spoken number counts only with a unit or a size word
        elif w in UNITS:
            meaningful = meaningful or any(_number(x) for x in words)
            qualifiers_only = qualifiers_only and not any(_number(x) for x in words)
        elif w not in _CONNECTORS:
            return False
    if meaningful and qualifiers_only and " ".join(words) not in _WHOLE_SIZES and not _cjk(value):
        return False  # "us", "it", "free", "size": nothing said about the size itself
    if any(w in NUMBER_WORDS for w in words) and not any(w in UNITS or w in SIZE_WORDS for w in words):
        return False
    zh = _cjk(value)
    if zh:
        rest = zh
        for term in sorted((*_ZH_SIZE_UNITS, *_ZH_SIZE_WORDS), key=len, reverse=True):
            rest = rest.replace(term, "")
        rest = _ZH_CONNECTORS.sub("", rest)
        if any(c not in _ZH_DIGITS for c in rest):
            return False
        meaningful = meaningful or any(t in zh for t in (*_ZH_SIZE_UNITS, *_ZH_SIZE_WORDS))
    return meaningful


def _said(phrases: tuple[str, ...], low: str, words: list[str]) -> bool:
    return any((p in words) if p.isalpha() and " " not in p else (p in low) for p in phrases)


def is_price(value: str) -> bool:
    """A number with a currency (word, sign or 元/块), a number with a promo word, or a promo phrase that
    is a price on its own."""
    low = value.lower()
    words = _latin_words(low)
    has_number = any(_number(w) for w in words) or bool(re.search(f"[{_ZH_DIGITS}]", low))
    currency = bool(_CURRENCY_SIGNS.search(low)) or any(w in CURRENCY for w in words) or any(c in low for c in _ZH_CURRENCY)
    if has_number and currency:
        return True
    if _said(PROMO_EN_WHOLE, low, words) or any(p in low for p in PROMO_ZH_WHOLE):
        return True
    return has_number and (_said(PROMO_EN, low, words) or any(p in low for p in PROMO_ZH))


def is_material(value: str) -> bool:
    """A material term (generic en/zh lexicon); in Latin script at least half the words are material
    terms or material modifiers."""
    low = value.lower()
    zh = _cjk(low)
    if zh and any(t in zh for t in _MATERIAL_TERMS_ZH):
        return not _latin_words(low) or all(w in _MATERIAL_TERMS_EN or w in _MATERIAL_MODIFIERS for w in _latin_words(low))
    words = _latin_words(low)
    if not words:
        return False
    in_term = [False] * len(words)
    for n in (3, 2, 1):
        for i in range(len(words) - n + 1):
            if " ".join(words[i : i + n]) in _MATERIAL_SET_EN:
                in_term[i : i + n] = [True] * n
    for i, w in enumerate(words):  # compounds such as "polycotton", "microfibre"
        in_term[i] = in_term[i] or any(len(t) >= 5 and " " not in t and t in w for t in _MATERIAL_TERMS_EN)
    if not any(in_term):
        return False
    mods = sum(w in _MATERIAL_MODIFIERS for w, t in zip(words, in_term, strict=True) if not t)
    return (sum(in_term) + mods) * 2 >= len(words)


CHECKS = {"color": is_color, "material": is_material, "size": is_size, "price": is_price}


def of_kind(kind: str, value: str) -> bool:
    """True when ``value`` is a value of ``kind`` (color | material | size | price)."""
    return CHECKS[kind](value)
