"""Synthetic demo data: no real people. Names are random combinations of common characters;
numbers are random within China's numbering plan so that parsing and geocoding work, and are
not taken from any list."""

from __future__ import annotations

import csv
import json
import os
import random
import secrets
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from phonebank.accounts.models import Role, User
from phonebank.accounts.services import user_create
from phonebank.campaigns.models import DEFAULT_ORGANISATIONS, Campaign, PlaybookEntry
from phonebank.campaigns.services import campaign_create, campaign_update
from phonebank.contacts.services import contacts_import_file
from phonebank.lib import hours

SLUG = "demo"
# Volunteers try the demo from any time zone, so its campaign calls at any hour of the
# contacts' day; real campaigns keep the product's default (hours.DEFAULT).
HOURS = "00:00-24:00"

SCRIPT = """\
## 开场 Opening

您好，打扰您一两分钟。我是海外的志愿者，想和您聊聊退出党、团、队的事。现在方便说话吗？

Hello, may I take a minute or two of your time? I am a volunteer calling from abroad, and
I would like to talk with you about leaving the Party, the Youth League and the Young
Pioneers. Is now a good time?

## 倾听 Listen

先听对方怎么想，不打断，不争论。对方的问题按下面的应对要点回答。

Listen first. Do not interrupt or argue; use the playbook for the questions people ask.

## 邀请 Invitation

退出是您自己的选择，可以用化名，不需要真名。您愿意用一个化名声明退出吗？

Leaving is your own choice, and you may use an alias instead of your name. Would you like to
declare that you leave, under an alias you choose?

## 结束 Closing

无论您怎么决定，谢谢您听我说完。祝您和家人平安。

Whatever you decide, thank you for listening. Best wishes to you and your family.
"""

PLAYBOOK = [
    (
        "我现在很忙。 I'm busy right now.",
        "理解，那我们约个您方便的时间再打，好吗？ Of course. When would suit you better? "
        "Offer a callback and note the time in their local time.",
        "time,callback",
    ),
    (
        "我不认识你，凭什么听你说？ Why should I listen to you? I don't know you.",
        "您说得对，您不认识我，谨慎是应该的。我只是一个志愿者，不需要您提供任何个人信息，"
        "听不听都由您决定。 You are right to be careful. I am a volunteer; I will not ask for "
        "any personal details, and it is entirely up to you whether to listen.",
        "trust",
    ),
    (
        "跟党走不就是我的信仰自由吗？ Isn't following the Party my freedom of belief?",
        "信仰自由很重要，所以选择权在您自己。我们只是把另一个选择告诉您，决定完全由您来做。 "
        "Freedom of belief matters, which is why the choice is yours. We only tell you that "
        "there is another choice; the decision is entirely yours.",
        "belief",
    ),
    (
        "我不做坏事就行了，为什么还要退？ What if I just stop doing bad things without quitting?",
        "您有这份心很好。退出声明是对自己立场的一个明确表态，可以用化名，做不做由您决定。 "
        "That intention is good. A declaration is a clear statement of where you stand; it can "
        "be made under an alias, and whether to make it is your decision.",
        "belief",
    ),
    (
        "明天下午再打吧。 Call me back tomorrow afternoon.",
        "好的，明天下午几点方便？我记下来。 Certainly. What time tomorrow afternoon? Record "
        "a callback with the time they give, in their local time.",
        "callback",
    ),
    (
        "别再给我打电话了。 Don't call me again.",
        "好的，我们不会再打扰您，谢谢您接听。 Understood; we will not call again. Thank you "
        "for answering. Record do-not-call: the number is never called again by anyone.",
        "dnc",
    ),
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史黎贺顾毛郝龚邵万钱覃武戴孔汤庞樊兰殷施陶洪翟安颜倪严牛温芦季俞章鲁葛伍申尤毕聂焦向柳邢骆岳齐梅莫庄辛管祝左涂谷时舒耿牟卜詹关苗凌费纪靳盛童欧甄项曲成游阳裴席卫查屈鲍位覃霍翁隋甘景薄单包司柏宁柯阮桂闵解强柴华车冉房边"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉力宁俊峰鹏海波飞斌宇浩凯健坤燕琳雪梅琴云莉晶颖婷慧佳倩欣悦晨阳"
ORGS = [
    "第三机械厂",
    "市第一中学",
    "区人民医院后勤处",
    "县供销社",
    "街道办事处",
    "物流公司",
    "建筑工程队",
    "农业合作社",
    "电子元件厂",
    "区图书馆",
    "纺织厂",
    "市政工程处",
]
TITLES = ["科员", "主任", "教师", "工程师", "会计", "司机", "技术员", "经理", "护士", "", ""]
MOBILE_PREFIXES = [
    "130",
    "131",
    "132",
    "133",
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "180",
    "181",
    "182",
    "183",
    "185",
    "186",
    "187",
    "188",
    "189",
]


def synthetic_rows(n: int, seed: int = 1949):
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets  # nosec B311
    for _ in range(n):
        number = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
        yield [number, name, rng.choice(ORGS), rng.choice(TITLES)]


def credentials_path() -> Path:
    return Path(settings.PHONEBANK_HOME) / "demo-credentials.json"


def demo_load(contacts: int = 2000) -> dict[str, str]:
    """Create the demo campaign, its people and contacts once; return the sign-ins."""
    path = credentials_path()
    existing = Campaign.objects.filter(slug=SLUG).first()
    if existing is not None and existing.calling_hours == hours.DEFAULT:
        # Made before the demo called all day, and its hours never changed since.
        campaign_update(campaign=existing, actor=None, calling_hours=HOURS)
    if existing is not None and path.exists():
        return json.loads(path.read_text())
    people = {
        "admin": Role.ADMIN,
        "coordinator": Role.COORDINATOR,
        "caller1": Role.CALLER,
        "caller2": Role.CALLER,
        "caller3": Role.CALLER,
    }
    creds = {name: secrets.token_urlsafe(9) for name in people}
    with transaction.atomic():
        campaign = Campaign.objects.filter(slug=SLUG).first() or campaign_create(
            slug=SLUG,
            name="Demo: 三退 calls",
            actor=None,
            calling_hours=HOURS,
            description=(
                "Synthetic demo campaign: no real people or numbers. It calls at any hour so "
                "the demo works from any time zone; a real campaign calls in its contacts' "
                "calling hours (09:00-12:00, 14:00-21:00 by default)."
            ),
            script=SCRIPT,
        )
        if not campaign.playbook.exists():
            PlaybookEntry.objects.bulk_create(
                PlaybookEntry(campaign=campaign, objection=o, response=r, tags=t, order=i)
                for i, (o, r, t) in enumerate(PLAYBOOK)
            )
        for name, role in people.items():
            existing = User.objects.filter(username=name).first()
            if existing:
                existing.set_password(creds[name])
                existing.save(update_fields=["password"])
            else:
                user_create(
                    username=name,
                    password=creds[name],
                    role=role,
                    campaign=None if role == Role.ADMIN else campaign,
                )
    csv_path = Path(settings.PHONEBANK_HOME) / "demo-contacts.csv"
    fd = os.open(csv_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["手机", "姓名", "单位", "职务"])
        writer.writerows(synthetic_rows(contacts))
    try:
        contacts_import_file(path=csv_path, campaign=campaign, actor=None)
    finally:
        csv_path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(creds, fh)
    return creds


ALIAS_WORDS = [
    "自由",
    "新生",
    "明天",
    "晨光",
    "清风",
    "远山",
    "春雨",
    "向阳",
    "松柏",
    "海燕",
    "白云",
    "星光",
    "青竹",
    "长河",
]
ALIAS_LATIN = ["Free Bird", "New Dawn", "Clear Sky", "Spring Rain", "Morning Star"]


def demo_registry(declarations: int = 150, days: int = 30, seed: int = 1989) -> int:
    """Synthetic declarations over the last `days` days (a few withdrawn), sealed into the
    log as the worker would have, a batch per few days. Once: nothing when some exist."""
    from phonebank.lib.provinces import PROVINCES
    from phonebank.registry.models import Declaration, Source
    from phonebank.registry.services import (
        declaration_record,
        declaration_withdraw,
        registry_publish,
    )

    if Declaration.objects.exists():
        return 0
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets  # nosec B311
    today = timezone.localdate()
    codes: list[str] = []
    withdrawn: set[str] = set()
    orgs = [code for code, *_names in DEFAULT_ORGANISATIONS]
    for day in range(days, -1, -1):
        for _ in range(rng.randint(0, 2 * declarations // days)):
            if len(codes) >= declarations:
                break
            if rng.random() < 0.2:
                alias = f"{rng.choice(ALIAS_LATIN)} {rng.randint(1, 99)}"
            else:
                alias = rng.choice(ALIAS_WORDS) + rng.choice(ALIAS_WORDS)
            _d, code = declaration_record(
                alias=alias,
                organisations=rng.sample(orgs, rng.randint(1, 3)),
                allowed=set(orgs),
                source=rng.choice([Source.PHONE, Source.PHONE, Source.WEB]),
                consent=True,
                province=rng.choice(PROVINCES).code if rng.random() < 0.7 else "",
                on=today - timedelta(days=day),
            )
            codes.append(code)
        if day % 5 == 0:
            for code in rng.sample(codes, min(len(codes), 1)):
                if code not in withdrawn and rng.random() < 0.5:
                    declaration_withdraw(code=code)
                    withdrawn.add(code)
            registry_publish()
    registry_publish()
    return len(codes)
