//! Name pools of the synthetic population, by naming tradition.
//!
//! Each entry is `latin|native`: a common Latin spelling and the name in the script
//! its families write (Arabic, Dari/Pashto, Cyrillic), or `somali|anglicised` for
//! Somali names (Somali orthography writes ħ as x and ʿayn as c). Traditions written
//! only in Latin script have no second part. The pools are larger than the
//! matcher's variant tables on purpose: most names here are unknown to the matcher
//! and must meet through transliteration and the consonant skeleton.

pub(crate) const ARABIC_MALE: &str = "Muhammad|محمد,Ahmad|أحمد,Mahmoud|محمود,Mustafa|مصطفى,Yusuf|يوسف,\
Ibrahim|إبراهيم,Ismail|إسماعيل,Abdullah|عبد الله,Abdulrahman|عبد الرحمن,Hassan|حسن,Hussein|حسين,\
Ali|علي,Omar|عمر,Othman|عثمان,Khalid|خالد,Karim|كريم,Saeed|سعيد,Yasin|ياسين,Bilal|بلال,Hamza|حمزة,\
Tariq|طارق,Zaid|زيد,Ammar|عمار,Anas|أنس,Bashar|بشار,Fadi|فادي,Ghassan|غسان,Hadi|هادي,Jamal|جمال,\
Kamal|كمال,Majid|ماجد,Nabil|نبيل,Nizar|نزار,Qasim|قاسم,Rami|رامي,Salim|سليم,Samir|سمير,Tamer|تامر,\
Walid|وليد,Yahya|يحيى,Zakaria|زكريا,Adnan|عدنان,Faris|فارس,Haitham|هيثم,Jihad|جهاد,Mazen|مازن,\
Munir|منير,Nasser|ناصر,Raed|رائد,Riyad|رياض,Sami|سامي,Suleiman|سليمان,Wael|وائل,\
Abdulkarim|عبد الكريم,Abdulaziz|عبد العزيز,Daoud|داود,Issa|عيسى,Musa|موسى,Harun|هارون,Ayman|أيمن,\
Basil|باسل,Firas|فراس,Hisham|هشام,Imad|عماد,Luay|لؤي,Moataz|معتز,Nidal|نضال,Osama|أسامة,Rashad|رشاد,\
Shadi|شادي,Talal|طلال,Yazan|يزن,Zuhair|زهير";

pub(crate) const ARABIC_FEMALE: &str = "Fatima|فاطمة,Aisha|عائشة,Khadija|خديجة,Maryam|مريم,Zainab|زينب,\
Amina|أمينة,Hawa|حواء,Halima|حليمة,Nour|نور,Layla|ليلى,Sara|سارة,Yasmin|ياسمين,Asma|أسماء,Rania|رانيا,\
Hiba|هبة,Salma|سلمى,Huda|هدى,Rasha|رشا,Dalia|داليا,Ghada|غادة,Jamila|جميلة,Lina|لينا,Lubna|لبنى,\
Manal|منال,Nada|ندى,Noura|نورة,Reem|ريم,Ruqayya|رقية,Safa|صفاء,Samira|سميرة,Suha|سهى,Wafa|وفاء,\
Zahraa|زهراء,Aya|آية,Bushra|بشرى,Dina|دينا,Iman|إيمان,Inas|إيناس,Khawla|خولة,Malak|ملاك,Marwa|مروة,\
Mona|منى,Nadia|نادية,Raghad|رغد,Sahar|سحر,Shaima|شيماء,Tasnim|تسنيم,Widad|وداد,Yara|يارا,Sawsan|سوسن";

pub(crate) const AFGHAN_MALE: &str = "Ahmad|احمد,Mohammad|محمد,Gul|گل,Rahim|رحیم,Karim|کریم,Nasir|ناصر,\
Jawad|جواد,Farid|فرید,Habib|حبیب,Hamid|حمید,Javid|جاوید,Mirwais|میرویس,Naveed|نوید,Omid|امید,Qadir|قادر,\
Rashid|رشید,Sayed|سید,Shafiq|شفیق,Wahid|وحید,Zalmai|زلمی,Bashir|بشیر,Daud|داود,Ezatullah|عزت‌الله,\
Hekmat|حکمت,Khalil|خلیل,Masoud|مسعود,Rahmatullah|رحمت‌الله,Samiullah|سمیع‌الله,Shir|شیر,Wali|ولی,\
Zabihullah|ذبیح‌الله,Aziz|عزیز,Fawad|فواد,Jalil|جلیل,Latif|لطیف,Mansoor|منصور,Najib|نجیب,Sharif|شریف";

pub(crate) const AFGHAN_FEMALE: &str = "Fatima|فاطمه,Maryam|مریم,Zahra|زهرا,Nargis|نرگس,Parwana|پروانه,\
Shabnam|شبنم,Gulalai|گلالی,Farzana|فرزانه,Habiba|حبیبه,Laila|لیلا,Mahbooba|محبوبه,Nazia|نازیه,Roya|رویا,\
Sadia|سعدیه,Shukria|شکریه,Soraya|ثریا,Tahmina|تهمینه,Zarghona|زرغونه,Zohra|زهره,Homa|هما,\
Malalai|ملالی,Najiba|نجیبه,Fereshta|فرشته,Sima|سیما,Wazhma|وژمه,Freshta|فرشته,Marzia|مرضیه,Sahar|سحر";

pub(crate) const AFGHAN_FAMILY: &str = "Ahmadzai|احمدزی,Popal|پوپل,Hotak|هوتک,Karimi|کریمی,Rahimi|رحیمی,\
Hashimi|هاشمی,Sultani|سلطانی,Noori|نوری,Hussaini|حسینی,Sadat|سادات,Safi|صافی,Stanikzai|ستانکزی,\
Wardak|وردک,Mohammadi|محمدی,Azizi|عزیزی,Amiri|امیری,Jalali|جلالی,Haidari|حیدری,Yusufzai|یوسفزی,\
Zazai|ززی,Barakzai|بارکزی,Durrani|درانی,Naseri|ناصری,Rezaei|رضایی,Sharifi|شریفی";

pub(crate) const SOMALI_MALE: &str = "Maxamed|Mohamed,Cabdi|Abdi,Cali|Ali,Xasan|Hassan,Xuseen|Hussein,\
Axmed|Ahmed,Cumar|Omar,Yuusuf|Yusuf,Ismaaciil|Ismail,Cabdullaahi|Abdullahi,Cabdiraxmaan|Abdirahman,\
Faarax|Farah,Jaamac|Jama,Warsame|Warsame,Guuleed|Guled,Cawil|Awil,Shire|Shire,Aadan|Adan,Muuse|Musa,\
Ciise|Isse,Daahir|Dahir,Khaalid|Khalid,Mahad|Mahad,Liibaan|Liban,Sahal|Sahal,Bashiir|Bashir,Nuur|Nur,\
Siyaad|Siad,Maxamuud|Mohamud,Cabdiqaadir|Abdikadir,Cismaan|Osman,Xirsi|Hirsi,Cilmi|Ilmi,Yaasiin|Yasin";

pub(crate) const SOMALI_FEMALE: &str = "Faadumo|Fadumo,Caasha|Asha,Xaliimo|Halimo,Maryan|Maryan,Hodan|Hodan,\
Sahra|Sahra,Ayaan|Ayan,Ifrah|Ifrah,Nimco|Nimo,Sucaad|Suad,Hibo|Hibo,Deeqa|Deka,Ubax|Ubah,Ilhaan|Ilhan,\
Xamdi|Hamdi,Ruqiyo|Rukia,Hawo|Hawa,Khadra|Khadra,Sagal|Sagal,Canab|Anab,Fardowso|Fardowsa,\
Shukri|Shukri,Saynab|Zeinab,Cibaado|Ibado,Idil|Idil,Muna|Muna";

pub(crate) const SUDANESE_MALE: &str = "Deng,Garang,Majok,Malual,Akol,Bol,Chol,Dut,Kuol,Mabior,Machar,\
Makuei,Manyang,Mayen,Ngor,Nhial,Thon,Wol,Yai,Ajak,Aleu,Arop,Atem,Chuol,Gatluak,Kong,Lual,Mading,Riek,\
Tut,Yien,Gai,Puok,Akech,Madut,Awan,Bior,Kuir,Makur,Ring";

pub(crate) const SUDANESE_FEMALE: &str = "Achol,Ajok,Akech,Akuol,Alek,Awut,Ayen,Nyandeng,Nyibol,Nyakim,\
Nyaruach,Nyawal,Adut,Abuk,Achan,Aluel,Amer,Anyieth,Athiei,Awien,Nyachuol,Nyagoa,Nyaluak,Rebecca,Mary,\
Grace,Elizabeth,Martha,Angelina,Regina";

pub(crate) const UKRAINIAN_MALE: &str = "Oleksandr|Олександр,Andriy|Андрій,Dmytro|Дмитро,Serhiy|Сергій,\
Mykola|Микола,Volodymyr|Володимир,Mykhailo|Михайло,Ivan|Іван,Petro|Петро,Yuriy|Юрій,Vasyl|Василь,\
Bohdan|Богдан,Taras|Тарас,Oleh|Олег,Ihor|Ігор,Maksym|Максим,Artem|Артем,Denys|Денис,Roman|Роман,\
Yaroslav|Ярослав,Vitaliy|Віталій,Pavlo|Павло,Anton|Антон,Kyrylo|Кирило,Danylo|Данило,Matviy|Матвій,\
Nazar|Назар,Tymofiy|Тимофій";

pub(crate) const UKRAINIAN_FEMALE: &str = "Olena|Олена,Yuliia|Юлія,Nataliia|Наталія,Kateryna|Катерина,\
Anastasiia|Анастасія,Iryna|Ірина,Oksana|Оксана,Tetiana|Тетяна,Svitlana|Світлана,Mariia|Марія,Anna|Анна,\
Daryna|Дарина,Sofiia|Софія,Viktoriia|Вікторія,Khrystyna|Христина,Halyna|Галина,Liudmyla|Людмила,\
Valentyna|Валентина,Polina|Поліна,Alina|Аліна,Diana|Діана,Veronika|Вероніка,Yana|Яна,Zlata|Злата,\
Vira|Віра,Myroslava|Мирослава,Solomiia|Соломія";

pub(crate) const UKRAINIAN_FAMILY: &str = "Shevchenko|Шевченко,Kovalenko|Коваленко,Bondarenko|Бондаренко,\
Tkachenko|Ткаченко,Kravchenko|Кравченко,Oliynyk|Олійник,Shevchuk|Шевчук,Polishchuk|Поліщук,Koval|Коваль,\
Bondar|Бондар,Tkachuk|Ткачук,Marchenko|Марченко,Rudenko|Руденко,Savchenko|Савченко,Moroz|Мороз,\
Lysenko|Лисенко,Petrenko|Петренко,Klymenko|Клименко,Pavlenko|Павленко,Savchuk|Савчук,\
Kuzmenko|Кузьменко,Ponomarenko|Пономаренко,Vasylenko|Василенко,Melnyk|Мельник,Boyko|Бойко,\
Kovalchuk|Ковальчук,Havryliuk|Гаврилюк,Levchenko|Левченко,Karpenko|Карпенко,Zinchenko|Зінченко";

pub(crate) const CONGOLESE_MALE: &str = "Jean,Pierre,Joseph,Emmanuel,Patrick,Christian,Olivier,Didier,\
Gloire,Dieudonné,Fiston,Héritier,Jonathan,Blaise,Cédric,Junior,Exaucé,Amani,Baraka,Espoir,Prince,\
Moïse,Samuel,Josué,Trésor";

pub(crate) const CONGOLESE_FEMALE: &str = "Merveille,Grâce,Esther,Divine,Chance,Nadège,Sandrine,Aline,\
Bénédicte,Ruth,Rachel,Déborah,Josiane,Furaha,Neema,Imani,Françoise,Chantal,Solange,Plamedi,Gracia,\
Arlette,Rebecca,Sarah";

pub(crate) const CONGOLESE_FAMILY: &str = "Mukendi,Kabila,Ilunga,Kasongo,Mbuyi,Kalala,Ngoy,Banza,\
Kabeya,Lukusa,Mwamba,Nkulu,Tshibangu,Kalombo,Mutombo,Bahati,Muhindo,Kambale,Kahindo,Masika,Kavira,\
Paluku,Mumbere,Byamungu,Bisimwa,Cirhuza,Mirindi,Bashige,Zawadi,Tshimanga";

/// Family short forms (canonical Latin name, short form). Some of them the matcher
/// knows, most it does not.
pub(crate) const SHORT_FORMS: &[(&str, &str)] = &[
    ("Muhammad", "Hamoudi"),
    ("Mohammad", "Hamid"),
    ("Fatima", "Fatoum"),
    ("Maryam", "Mimi"),
    ("Abdullah", "Abdo"),
    ("Hassan", "Hassoun"),
    ("Ibrahim", "Bob"),
    ("Yusuf", "Joe"),
    ("Khadija", "Khadouj"),
    ("Zainab", "Zanoub"),
    ("Oleksandr", "Sasha"),
    ("Mykhailo", "Misha"),
    ("Dmytro", "Dima"),
    ("Mykola", "Kolya"),
    ("Volodymyr", "Vova"),
    ("Kateryna", "Katya"),
    ("Anastasiia", "Nastya"),
    ("Yuliia", "Yulya"),
    ("Nataliia", "Natasha"),
    ("Olena", "Lena"),
    ("Ivan", "Vanya"),
    ("Petro", "Petya"),
    ("Iryna", "Ira"),
    ("Sofiia", "Sonya"),
    ("Cabdullaahi", "Abdi"),
    ("Emmanuel", "Manu"),
    ("Dieudonné", "Dido"),
    ("Nyandeng", "Nyan"),
];
