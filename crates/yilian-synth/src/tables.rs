//! Static vocabularies the generator draws from: surnames with weights, given-name
//! characters by era and sex, homophone groups for typos, place-name parts, the
//! 2020 census age structure, identity-number prefixes and clinical specialties.
//!
//! Everything here is a list of common words, not data about any person.

/// Common surnames (百家姓 by frequency) with weights in units of 0.01 % of the
/// population: the national 2020 ranking, with surnames frequent in southern
/// Shanxi raised and southern-China surnames lowered.
pub(crate) const SURNAMES: &[(&str, u32)] = &[
    ("王", 760),
    ("李", 720),
    ("张", 700),
    ("刘", 560),
    ("陈", 380),
    ("杨", 320),
    ("赵", 240),
    ("郭", 200),
    ("吴", 150),
    ("周", 170),
    ("徐", 130),
    ("孙", 150),
    ("马", 140),
    ("朱", 120),
    ("胡", 110),
    ("黄", 90),
    ("何", 90),
    ("高", 120),
    ("林", 50),
    ("罗", 45),
    ("郑", 80),
    ("梁", 45),
    ("谢", 40),
    ("宋", 80),
    ("唐", 60),
    ("许", 60),
    ("韩", 80),
    ("冯", 70),
    ("邓", 30),
    ("曹", 60),
    ("彭", 30),
    ("曾", 20),
    ("肖", 40),
    ("田", 70),
    ("董", 60),
    ("袁", 40),
    ("潘", 35),
    ("于", 50),
    ("蒋", 35),
    ("蔡", 35),
    ("余", 30),
    ("杜", 50),
    ("叶", 30),
    ("程", 70),
    ("苏", 40),
    ("魏", 60),
    ("吕", 50),
    ("丁", 40),
    ("任", 60),
    ("沈", 30),
    ("姚", 40),
    ("卢", 35),
    ("姜", 35),
    ("崔", 40),
    ("钟", 12),
    ("谭", 15),
    ("陆", 20),
    ("汪", 20),
    ("范", 35),
    ("金", 20),
    ("石", 35),
    ("廖", 10),
    ("贾", 60),
    ("夏", 25),
    ("韦", 8),
    ("付", 30),
    ("方", 20),
    ("白", 40),
    ("邹", 15),
    ("孟", 35),
    ("熊", 15),
    ("秦", 45),
    ("邱", 15),
    ("江", 15),
    ("尹", 20),
    ("薛", 40),
    ("闫", 45),
    ("段", 35),
    ("雷", 20),
    ("侯", 35),
    ("龙", 8),
    ("史", 35),
    ("陶", 15),
    ("黎", 6),
    ("贺", 20),
    ("顾", 10),
    ("毛", 15),
    ("郝", 40),
    ("龚", 6),
    ("邵", 15),
    ("万", 12),
    ("钱", 10),
    ("严", 12),
    ("覃", 4),
    ("武", 40),
    ("戴", 10),
    ("莫", 5),
    ("孔", 15),
    ("向", 8),
    ("汤", 10),
    ("常", 30),
    ("申", 25),
    ("牛", 25),
    ("卫", 12),
    ("靳", 15),
    ("原", 12),
    ("焦", 15),
    ("欧阳", 4),
];

/// Given-name characters, by birth era (born before 1965, 1965–1994, 1995 on)
/// and sex: the naming fashions of each generation.
pub(crate) const GIVEN_MALE: [&[&str]; 3] = [
    &[
        "建", "国", "明", "华", "军", "平", "德", "福", "文", "志", "林", "海", "成", "忠", "山",
        "保", "生", "根", "全", "春", "树", "荣", "祥", "贵",
    ],
    &[
        "伟", "强", "磊", "勇", "涛", "斌", "鹏", "杰", "刚", "超", "波", "辉", "峰", "军", "亮",
        "飞", "鑫", "龙", "东", "明", "俊", "健", "彬", "宏",
    ],
    &[
        "浩", "宇", "轩", "子", "梓", "博", "俊", "睿", "泽", "一", "晨", "航", "然", "铭", "豪",
        "奕", "辰", "阳", "皓", "逸", "翔", "瑞", "嘉", "昊",
    ],
];

/// See [`GIVEN_MALE`].
pub(crate) const GIVEN_FEMALE: [&[&str]; 3] = [
    &[
        "秀", "英", "兰", "珍", "凤", "玉", "桂", "芳", "梅", "花", "琴", "云", "萍", "香", "菊",
        "娥", "荣", "淑", "春", "华", "翠", "莲", "贞",
    ],
    &[
        "丽", "娟", "敏", "静", "燕", "艳", "霞", "红", "婷", "晶", "丹", "洁", "琳", "慧", "莉",
        "娜", "颖", "芳", "萍", "玲", "雪", "倩", "蓉",
    ],
    &[
        "欣", "怡", "涵", "梓", "萱", "雨", "佳", "可", "诗", "思", "琪", "悦", "彤", "瑶", "馨",
        "若", "语", "雯", "婧", "芸", "晗", "依", "嘉",
    ],
];

/// Groups of given-name characters that read alike (same toneless pinyin):
/// a clerk who hears a name may type any of them (同音字).
pub(crate) const HOMOPHONES: &[&[&str]] = &[
    &["丽", "莉", "俐", "利", "立"],
    &["伟", "玮", "维", "炜", "薇", "卫"],
    &["娟", "鹃"],
    &["静", "晶", "菁", "婧", "靖", "敬"],
    &["敏", "民", "珉"],
    &["英", "瑛", "莹", "颖", "盈"],
    &["华", "桦", "骅", "花"],
    &["军", "君", "俊", "骏", "峻", "均"],
    &["明", "鸣", "铭", "名"],
    &["芳", "方", "舫"],
    &["红", "宏", "鸿", "洪", "虹"],
    &["燕", "艳", "妍", "彦", "雁", "岩"],
    &["霞", "夏", "侠"],
    &["涛", "韬", "桃"],
    &["斌", "彬", "滨", "宾"],
    &["鹏", "朋", "蓬"],
    &["杰", "洁", "婕", "捷"],
    &["刚", "钢", "岗"],
    &["超", "潮"],
    &["波", "博", "勃"],
    &["磊", "蕾", "雷"],
    &["勇", "永", "涌", "泳"],
    &["浩", "昊", "皓", "豪"],
    &["宇", "雨", "玉", "语", "羽", "瑜", "钰", "煜"],
    &["轩", "萱", "宣", "璇"],
    &["子", "紫", "梓", "姿"],
    &["涵", "晗", "寒", "含", "翰", "瀚"],
    &["欣", "馨", "新", "心", "鑫", "昕"],
    &["怡", "仪", "依", "宜", "逸", "奕", "一", "艺"],
    &["佳", "嘉", "家", "加"],
    &["琪", "琦", "淇", "棋", "祺"],
    &["悦", "月", "越", "跃"],
    &["思", "斯", "丝"],
    &["诗", "世", "士"],
    &["晨", "辰", "臣", "琛"],
    &["泽", "则"],
    &["睿", "瑞", "锐", "蕊"],
    &["航", "杭"],
    &["峰", "锋", "丰", "凤", "风", "枫"],
    &["平", "萍", "苹"],
    &["兰", "岚", "蓝", "澜"],
    &["梅", "玫", "媚"],
    &["珍", "真", "贞", "振"],
    &["桂", "贵"],
    &["秀", "修"],
    &["国", "果"],
    &["建", "剑", "健", "坚"],
    &["文", "雯", "闻"],
    &["志", "智", "芝"],
    &["林", "琳", "霖", "麟"],
    &["福", "富", "芙"],
    &["婷", "亭", "廷"],
    &["东", "冬", "栋"],
    &["亮", "良"],
    &["飞", "菲", "非"],
    &["慧", "辉", "惠", "晖"],
    &["云", "芸", "韵"],
    &["琴", "勤", "芹"],
    &["香", "翔", "祥", "湘"],
    &["彤", "桐", "童"],
    &["瑶", "尧", "遥"],
    &["然", "冉"],
    &["保", "宝"],
    &["生", "胜", "升"],
    &["荣", "蓉", "容", "融"],
    &["春", "纯"],
    &["淑", "舒", "树"],
    &["雪", "学"],
    &["倩", "茜"],
    &["莲", "连", "廉"],
    &["翠", "萃"],
    &["龙", "隆"],
    &["成", "诚", "程"],
    &["可", "珂", "科"],
];

/// Share of the population by five-year age group (0–4 … 95–99, 100+), in
/// units of 0.01 %: the 7th national census (2020) age structure.
pub(crate) const AGE_GROUPS_2020: [u32; 21] = [
    552, 639, 604, 515, 531, 651, 879, 701, 661, 809, 858, 718, 520, 524, 351, 220, 144, 76, 25, 5,
    1,
];

/// The county code and name of the fictional county, in real Jincheng (晋城市),
/// Shanxi (山西省). 140599 is not a GB/T 2260 code.
pub(crate) const COUNTY_CODE: &str = "140599";
/// See [`COUNTY_CODE`].
pub(crate) const COUNTY_NAME: &str = "青禾县";

/// Identity-number address codes of residents born or first registered
/// elsewhere, with weights in 0.01 % of residents (the county's own code takes
/// the rest): neighbouring counties of Jincheng, three provincial capitals'
/// districts, and 140527 — a code in a real province that the current
/// GB/T 2260 table lacks (as an abolished county's code would be).
pub(crate) const OTHER_ID_PREFIXES: &[(&str, u32)] = &[
    ("140525", 250),
    ("140581", 200),
    ("140522", 150),
    ("140521", 100),
    ("140524", 100),
    ("140502", 100),
    ("140527", 50),
    ("130102", 80),
    ("410102", 100),
    ("370102", 70),
];

/// Township name stems (fictional townships; such stems are common all over China).
pub(crate) const TOWNSHIP_STEMS: &[&str] = &[
    "桃源", "青石", "杏林", "龙泉", "石门", "双河", "白水", "凤鸣", "金坪", "南岭", "北坡", "梨园",
    "松涛", "清泉", "红岩", "槐荫", "麦川", "云岭", "丰乐", "安平", "兴隆", "永安", "太平", "大河",
    "马鞍", "新店", "西峪", "秀水", "临川", "柳湾", "官庄", "河底",
];

/// Sub-district (街道) name stems at the county seat.
pub(crate) const STREET_STEMS: &[&str] = &["城关", "东城", "西城", "新城"];

/// Residents' committee (社区) name stems.
pub(crate) const COMMUNITY_STEMS: &[&str] = &[
    "文昌", "育才", "迎宾", "新华", "建设", "朝阳", "和平", "幸福", "锦绣", "府前", "东关", "西关",
    "南关", "北关", "振兴", "康乐", "滨河", "书院", "胜利", "团结", "凤台", "秀水", "花园", "春晖",
];

/// Village-name parts: a direction or landscape word, and a settlement word.
pub(crate) const VILLAGE_HEADS: &[&str] = &[
    "东", "西", "南", "北", "前", "后", "上", "下", "大", "小", "中", "石", "柳", "杏", "桃", "槐",
    "枣", "杨", "松", "梨", "泉", "马", "牛", "龙", "凤", "红", "白", "黄", "青", "新", "高", "沙",
];
/// See [`VILLAGE_HEADS`].
pub(crate) const VILLAGE_TAILS: &[&str] = &[
    "庄", "沟", "坡", "河", "峪", "岭", "坪", "寨", "堡", "洼", "湾", "头", "窑", "营", "店", "园",
    "渠", "岗", "掌", "圪塔",
];

/// Street names for addresses at the county seat and the city.
pub(crate) const ROADS: &[&str] = &[
    "人民路",
    "健康路",
    "文化街",
    "凤台街",
    "建设路",
    "解放路",
    "新华街",
    "迎宾路",
    "红星街",
    "泽州路",
];

/// Brand words of private clinics.
pub(crate) const CLINIC_BRANDS: &[&str] = &["仁和", "康宁", "济民", "惠民", "同心", "益康"];

/// Clinical departments of a general hospital, with weights (share of physicians).
pub(crate) const GENERAL_SPECIALTIES: &[(&str, u32)] = &[
    ("内科", 10),
    ("心血管内科", 8),
    ("神经内科", 6),
    ("呼吸内科", 6),
    ("消化内科", 5),
    ("内分泌科", 4),
    ("肾内科", 3),
    ("感染性疾病科", 3),
    ("老年医学科", 3),
    ("外科", 8),
    ("骨科", 7),
    ("神经外科", 3),
    ("泌尿外科", 3),
    ("妇产科", 7),
    ("儿科", 6),
    ("急诊科", 6),
    ("重症医学科", 3),
    ("麻醉科", 5),
    ("医学影像科", 6),
    ("眼科", 2),
    ("耳鼻咽喉科", 2),
    ("口腔科", 2),
    ("皮肤科", 1),
    ("康复医学科", 2),
    ("中医科", 3),
    ("全科医学科", 6),
];

/// Departments of a TCM hospital; the first ones are TCM (中医类别) departments.
pub(crate) const TCM_SPECIALTIES: &[(&str, u32)] = &[
    ("中医内科", 20),
    ("针灸科", 10),
    ("推拿科", 6),
    ("中医骨伤科", 10),
    ("中医妇科", 6),
    ("中医儿科", 5),
    ("治未病科", 4),
    ("中医康复科", 6),
    ("中医肛肠科", 3),
    ("急诊科", 5),
    ("医学影像科", 5),
    ("麻醉科", 3),
];
/// How many leading entries of [`TCM_SPECIALTIES`] are TCM departments.
pub(crate) const TCM_SPECIALTIES_TCM: usize = 9;

/// Departments of a maternal and child health hospital.
pub(crate) const MCH_SPECIALTIES: &[(&str, u32)] = &[
    ("妇产科", 30),
    ("儿科", 20),
    ("新生儿科", 10),
    ("妇女保健科", 10),
    ("儿童保健科", 10),
    ("医学影像科", 5),
    ("麻醉科", 4),
];

/// Departments of a CDC.
pub(crate) const CDC_DEPARTMENTS: &[&str] = &[
    "传染病防制科",
    "慢性病防制科",
    "免疫规划科",
    "卫生检验科",
    "地方病防制科",
    "健康教育科",
    "职业卫生科",
    "应急办公室",
];

/// Departments of medical technicians (医技).
pub(crate) const TECH_DEPARTMENTS: &[&str] =
    &["检验科", "医学影像科", "超声科", "心电图室", "病理科"];
