"""Generic word lists (zh/en) used by the extractive summarizer: fillers, colors, materials, product nouns.

General retail vocabulary only; nothing here is taken from any dataset.
"""

from __future__ import annotations

FILLERS_ZH = ("嗯", "啊", "呃", "额", "哦", "哈", "呀", "吧", "呢", "嘛", "哎", "诶", "欸", "噢", "那个", "就是说", "然后呢", "对吧", "对不对")
FILLERS_EN = ("um", "umm", "uh", "uhh", "er", "erm", "ah", "oh", "hmm", "mm", "like", "you know", "i mean", "okay", "ok", "so", "yeah", "well", "right")

# Calls to action and greetings: never product facts.
BANTER_ZH = ("欢迎", "点赞", "关注", "点关注", "直播间", "家人们", "宝宝们", "姐妹们", "兄弟们", "老铁", "扣1", "扣个1", "刷一波", "小红心", "下播", "大家好")
BANTER_EN = ("welcome", "hello", "hi everyone", "hey guys", "subscribe", "follow", "like the stream", "smash that", "thanks for joining", "thank you for joining", "chat", "shout out", "shoutout")

COLORS_EN = (
    "red", "blue", "green", "black", "white", "pink", "purple", "yellow", "orange", "grey", "gray", "brown",
    "beige", "navy", "ivory", "gold", "silver", "khaki", "burgundy", "teal", "turquoise", "maroon", "olive",
    "lavender", "charcoal", "tan", "camel", "nude", "rose gold", "sky blue", "dark blue", "light blue",
)
# zh colors: an optional shade prefix, a hue, then 色.
COLOR_ZH_PATTERN = r"(?:[浅深亮淡奶酒藏雾暗粉天宝墨]?)(?:卡其|香槟|玫瑰|咖啡|[红橙黄绿青蓝紫黑白灰粉棕褐米金银咖杏驼])色"

MATERIALS_EN = (
    "stainless steel", "cotton", "linen", "silk", "wool", "cashmere", "leather", "genuine leather", "denim",
    "polyester", "nylon", "ceramic", "glass", "wooden", "wood", "bamboo", "plastic", "silicone", "aluminum",
    "aluminium", "titanium", "copper", "velvet", "suede", "down", "spandex", "rubber", "canvas", "porcelain",
    "cast iron", "marble", "acrylic", "mesh", "fleece", "satin", "chiffon", "lace",
)
MATERIALS_ZH = (
    "不锈钢", "纯棉", "全棉", "亚麻", "真丝", "桑蚕丝", "丝绸", "羊毛", "羊绒", "真皮", "牛皮", "羊皮", "皮革", "牛仔",
    "涤纶", "尼龙", "陶瓷", "玻璃", "实木", "竹纤维", "塑料", "硅胶", "铝合金", "钛合金", "纯铜", "丝绒", "麂皮",
    "羽绒", "帆布", "橡胶", "雪纺", "蕾丝", "莫代尔", "冰丝", "珐琅", "铸铁", "大理石", "棉麻", "棉",
)

# Product nouns -> coarse category. Longer entries are matched first.
PRODUCT_NOUNS_EN: dict[str, str] = {
    **dict.fromkeys(("dress", "shirt", "t-shirt", "tee", "blouse", "jacket", "coat", "hoodie", "sweater", "cardigan",
                     "jeans", "pants", "trousers", "shorts", "skirt", "leggings", "suit", "vest", "jumpsuit",
                     "pajamas", "socks", "scarf", "hat", "cap", "gloves", "swimsuit", "bra", "underwear"), "apparel"),
    **dict.fromkeys(("shoes", "sneakers", "boots", "sandals", "heels", "slippers", "loafers", "trainers"), "shoes"),
    **dict.fromkeys(("bag", "handbag", "backpack", "wallet", "purse", "tote", "suitcase", "luggage", "clutch"), "bags"),
    **dict.fromkeys(("lipstick", "serum", "moisturizer", "cream", "lotion", "cleanser", "toner", "foundation",
                     "mascara", "eyeliner", "sunscreen", "perfume", "shampoo", "conditioner", "mask", "palette",
                     "concealer", "blush", "lip gloss", "face wash", "body wash", "essence"), "beauty"),
    **dict.fromkeys(("phone", "smartphone", "headphones", "earbuds", "earphones", "speaker", "laptop", "tablet",
                     "charger", "power bank", "cable", "camera", "smartwatch", "watch", "keyboard", "mouse",
                     "monitor", "tv", "television", "console", "router", "drone", "projector"), "electronics"),
    **dict.fromkeys(("blender", "kettle", "pan", "pot", "wok", "knife", "knives", "cookware", "air fryer",
                     "rice cooker", "mug", "cup", "bottle", "tumbler", "plate", "bowl", "toaster", "coffee maker",
                     "juicer", "thermos", "lunch box"), "kitchen"),
    **dict.fromkeys(("pillow", "blanket", "sheets", "duvet", "mattress", "towel", "lamp", "rug", "curtain",
                     "vacuum", "fan", "heater", "humidifier", "chair", "desk", "sofa", "shelf", "organizer",
                     "candle"), "home"),
    **dict.fromkeys(("necklace", "ring", "earrings", "bracelet", "pendant", "jewelry", "sunglasses", "glasses"),
                    "accessories"),
    **dict.fromkeys(("snack", "snacks", "tea", "coffee", "chocolate", "cookies", "nuts", "honey", "juice",
                     "noodles", "sauce", "protein powder", "vitamins", "supplement"), "food"),
    **dict.fromkeys(("toy", "doll", "puzzle", "lego", "stroller", "diaper", "diapers"), "toys_baby"),
    **dict.fromkeys(("yoga mat", "dumbbell", "dumbbells", "treadmill", "bike", "tent", "racket", "ball"), "sports"),
}

PRODUCT_NOUNS_ZH: dict[str, str] = {
    **dict.fromkeys(("连衣裙", "裙子", "半身裙", "短裙", "长裙", "衬衫", "衬衣", "T恤", "t恤", "卫衣", "毛衣", "针织衫",
                     "外套", "夹克", "大衣", "风衣", "羽绒服", "西装", "马甲", "牛仔裤", "裤子", "长裤", "短裤",
                     "阔腿裤", "打底裤", "运动裤", "睡衣", "内衣", "文胸", "袜子", "围巾", "帽子", "手套",
                     "泳衣", "上衣", "背心", "套装", "旗袍", "汉服"), "apparel"),
    **dict.fromkeys(("运动鞋", "板鞋", "靴子", "短靴", "凉鞋", "拖鞋", "高跟鞋", "皮鞋", "帆布鞋", "老爹鞋", "跑鞋", "鞋子", "鞋"), "shoes"),
    **dict.fromkeys(("包包", "手提包", "单肩包", "斜挎包", "双肩包", "背包", "钱包", "行李箱", "拉杆箱", "托特包", "包"), "bags"),
    **dict.fromkeys(("口红", "唇釉", "唇膏", "精华液", "精华", "面霜", "乳液", "爽肤水", "化妆水", "洗面奶", "粉底液",
                     "气垫", "睫毛膏", "眼线笔", "防晒霜", "防晒", "香水", "洗发水", "护发素", "面膜", "眼影盘",
                     "眼影", "遮瑕", "腮红", "眼霜", "卸妆水", "沐浴露", "身体乳"), "beauty"),
    **dict.fromkeys(("手机", "耳机", "蓝牙耳机", "音箱", "音响", "笔记本电脑", "电脑", "平板", "充电器", "充电宝",
                     "数据线", "相机", "智能手表", "手表", "键盘", "鼠标", "显示器", "电视", "路由器", "无人机",
                     "投影仪", "吹风机", "剃须刀", "电动牙刷"), "electronics"),
    **dict.fromkeys(("破壁机", "榨汁机", "电水壶", "烧水壶", "平底锅", "炒锅", "锅", "刀具", "菜刀", "空气炸锅",
                     "电饭煲", "马克杯", "杯子", "保温杯", "水杯", "盘子", "碗", "面包机", "咖啡机", "饭盒"), "kitchen"),
    **dict.fromkeys(("枕头", "被子", "毯子", "四件套", "床单", "床垫", "毛巾", "浴巾", "台灯", "地毯", "窗帘", "吸尘器",
                     "扫地机器人", "风扇", "电风扇", "取暖器", "加湿器", "椅子", "桌子", "沙发", "收纳盒", "香薰"), "home"),
    **dict.fromkeys(("项链", "戒指", "耳环", "耳钉", "手链", "手镯", "吊坠", "首饰", "墨镜", "太阳镜", "眼镜"), "accessories"),
    **dict.fromkeys(("零食", "茶叶", "咖啡", "巧克力", "饼干", "坚果", "蜂蜜", "果汁", "方便面", "面条", "酱", "蛋白粉",
                     "维生素", "牛奶", "大米", "水果"), "food"),
    **dict.fromkeys(("玩具", "娃娃", "积木", "拼图", "婴儿车", "纸尿裤", "奶瓶"), "toys_baby"),
    **dict.fromkeys(("瑜伽垫", "哑铃", "跑步机", "自行车", "帐篷", "球拍", "篮球", "足球"), "sports"),
}

# English words that are never brands even when capitalized.
NOT_BRANDS_EN = frozenset(
    ["i", "i'm", "i've", "it's", "this", "that", "these", "those", "the", "a", "an", "and", "or", "but", "so", "if", "we", "you", "he", "she", "they", "it", "my", "our", "your", "their", "here", "there", "now", "today", "tonight", "guys", "everyone", "everybody", "hello", "hi", "hey", "welcome", "okay", "ok", "yes", "no", "oh", "um", "uh", "wow", "look", "see", "check", "let", "let's", "just", "really", "very", "super", "also", "then", "what", "how", "why", "when", "where", "who", "which", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december", "black", "friday", "christmas"]
)
# Latin tokens that are units or sizes, not brands, inside Chinese speech.
NOT_BRANDS_LATIN = frozenset(
    ["ml", "l", "g", "kg", "mg", "cm", "mm", "m", "xs", "s", "xl", "xxl", "xxxl", "gb", "tb", "mb", "mah", "w", "v", "hz", "mp", "oz", "lb", "ok", "vip", "app", "id", "diy", "led", "usb", "type"]
)
