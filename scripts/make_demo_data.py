#!/usr/bin/env python3
"""Write listening/demo/superbowl.jsonl: about 2,000 mentions of a fictional chip brand,
Crunchwave, on a Super Bowl night, for the demo source (listening/adapters/demo.py).

Deterministic: the same seed writes the same bytes. Everything in it is invented: the
brand, the teams, the stadium, the people, the other brands; links are defanged
(`example[.]xyz`) so nothing in the room is clickable into the real world.

The night, as seconds since the file starts (an hour before kickoff):

    0      pre-game chatter; Crunchwave teases its ad
    3600   kickoff
    6240   Crunchwave's "Quiet Please" ad airs in Q2: a wave of praise, jokes, some shrugs
    7200   halftime (Nova Reyes)
    9000   Q3: the stadium loses power. A spike of several hundred mentions within ten
           minutes ("lights out", "blackout", "power outage"), brands posting in real time,
           bots riding the trend; lights back around 9900, play resumes around 10080
    10500  a short crisis moment: reports of shots fired near the stadium ("stay away",
           "evacuating"), meant to trip the demo's tragedy-lexicon rule and declare a crisis;
           the police say it was fireworks by 10620
    11400  Q4: a safety scare: parents report allergic reactions after Crunchwave Honey BBQ
           (undeclared peanuts?), a cluster meant to trip a crisis rule
    12900  final whistle; post-game chatter until 14400

Spread through the night: complaints (stale bags, plastic in a bag, refunds, delivery),
spam (crypto giveaways, the same text from many handles), mild hostility, Spanish,
Portuguese and a few other languages, influencers with millions of followers and accounts
with a dozen, and deliberately odd text: emoji only, Arabic and Hebrew, zero-width and
bidi-control characters, combining marks, markup and template injection attempts, a NUL,
a post of about 12,000 characters.

    python scripts/make_demo_data.py [--seed N] [--out PATH]
"""

import argparse
import json
import random
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "listening" / "demo" / "superbowl.jsonl"
SEED = 20260208

KICKOFF = 3600.0
AD_AIRS = 6240.0
HALFTIME = 7200.0
Q3_START = 8400.0
BLACKOUT = 9000.0
BLACKOUT_END = BLACKOUT + 600.0  # the spike: every blackout line of the first wave lands before this
LIGHTS_BACK = 9900.0
PLAY_RESUMES = 10080.0
SCARE = 11400.0
FINAL = 12900.0
END = 14400.0

# Offsets map to snowflake-like ids from this wall-clock start (the ids only look real).
START_MS = int(datetime(2026, 2, 8, 22, 30, tzinfo=timezone.utc).timestamp() * 1000)
X_EPOCH_MS = 1288834974657

FLAVORS = ["Sea Salt", "Honey BBQ", "Flamin' Lime", "Sour Cream & Chive", "Jalapeño Ranch",
           "Cheddar Thunder", "Salt & Vinegar", "Midnight Pepper", "Sweet Chili", "Dill Pickle"]
TEAMS = ["Stallions", "Comets"]
PLAYERS = ["Reed", "Okafor", "DeShawn Miles", "Castillo", "Big Tuna Barrett", "Kowalski",
           "J.J. Pruitt", "Hale", "Santos", "Marcus Reed", "Tyler Okafor", "Vance"]
RELATIVES = ["uncle", "mom", "dad", "grandma", "aunt", "brother-in-law", "roommate", "cousin",
             "neighbor", "sister", "boss", "landlord"]
FRIENDS = ["Kev", "Maria", "my roommate", "Danny", "the guy from work", "Jess", "my cousin",
           "Tash", "Big Mike", "Priya", "my sister", "Coach"]
PLAYS = ["touchdown run", "catch", "pick six", "strip sack", "screen pass", "field goal",
         "punt return", "scramble"]
EMOJI_HYPE = ["🔥", "🔥🔥", "😤", "🏈", "💪", "🙌", "😱", "👏👏", "🚀", "‼️"]
EMOJI_LOL = ["😂", "😂😂", "💀", "😭", "🤣", "😭😭😭", "lmao", "lol", "LMAOOO", "😆"]
EMOJI_SAD = ["😩", "🙄", "😒", "🤦", "😤", "👎", "😑", "ugh"]


class Night:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.posts: list[dict] = []
        self.texts: dict[str, int] = {}  # text -> count, to keep non-spam text distinct
        self.handles: dict[str, dict] = {}
        self.pools: dict[str, list[dict]] = {}
        self._build_people()

    # ---- people -------------------------------------------------------------------------

    FIRST = ["dana", "marcus", "jess", "tyler", "priya", "kevin", "ashley", "omar", "lauren",
             "derek", "nina", "chris", "brianna", "sam", "jordan", "mia", "andre", "kayla",
             "josh", "tasha", "ryan", "emily", "malik", "hannah", "luke", "zoe", "devon",
             "courtney", "matt", "aisha", "noah", "becca", "terrence", "lily", "graham",
             "maya", "trey", "olivia", "kenji", "rachel", "colin", "jada", "ethan", "paige",
             "dominic", "keisha", "wes", "sophie", "raj", "amber", "cam", "leah", "victor",
             "ivy", "nate", "grace", "bo", "tori", "hector", "meg"]
    LAST = ["miller", "johnson", "nguyen", "okoro", "reyes", "walsh", "patel", "brooks",
            "kim", "foster", "hughes", "diaz", "turner", "bell", "coleman", "park", "price",
            "hayes", "murphy", "ward", "ellis", "cruz", "grant", "shaw", "lam", "fox",
            "owens", "stone", "webb", "king", "santos", "moss", "beck", "lowe", "mack"]
    WORDS = ["hoops", "gridiron", "snack", "chip", "couch", "tailgate", "blitz", "endzone",
             "fantasy", "sunday", "crunch", "salsa", "wings", "buffalo", "nacho", "redzone",
             "pigskin", "dad", "mom", "coach", "nerd", "vibes", "real", "its", "just",
             "official", "the", "not", "big", "lil"]
    ES_FIRST = ["Luis", "Ana", "Carlos", "Sofía", "Diego", "Valeria", "Jorge", "Camila",
                "Andrés", "Lucía", "Miguel", "Daniela", "Javier", "Fernanda", "Raúl", "Paola"]
    ES_LAST = ["García", "Hernández", "López", "Martínez", "Ramírez", "Torres", "Flores",
               "Vargas", "Castro", "Morales", "Rojas", "Ortiz"]
    PT_FIRST = ["João", "Beatriz", "Pedro", "Larissa", "Thiago", "Mariana", "Rafael",
                "Gabriela", "Lucas", "Fernanda", "Bruno", "Camila"]
    PT_LAST = ["Silva", "Souza", "Oliveira", "Costa", "Pereira", "Almeida", "Ribeiro",
               "Carvalho", "Gomes", "Rocha"]

    def _handle(self, base: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_]", "", base)[:15] or "user"
        handle, n = base, 1
        while handle.lower() in self.handles:
            n += 1
            suffix = str(self.rng.randint(2, 999))
            handle = base[: 15 - len(suffix)] + suffix
        return handle

    def _person(self, lang: str, followers: int | None = None) -> dict:
        r = self.rng
        if lang == "es":
            first, last = r.choice(self.ES_FIRST), r.choice(self.ES_LAST)
        elif lang == "pt":
            first, last = r.choice(self.PT_FIRST), r.choice(self.PT_LAST)
        else:
            first, last = r.choice(self.FIRST).title(), r.choice(self.LAST).title()
        plain_first = first.translate(str.maketrans("áéíóúãçñÁÉÍÓÚ", "aeiouacnAEIOU"))
        plain_last = last.translate(str.maketrans("áéíóúãçñÁÉÍÓÚ", "aeiouacnAEIOU"))
        style = r.randrange(9)
        word = r.choice(self.WORDS)
        base = [
            f"{plain_first}{plain_last}",
            f"{plain_first.lower()}_{plain_last.lower()[:r.randint(1, 5)]}",
            f"{plain_first.lower()}{r.randint(1, 99)}",
            f"{word}{plain_first.lower()}",
            f"{plain_first}_{word}",
            f"{plain_first[0].lower()}{plain_last.lower()}{r.randint(70, 99)}",
            f"{word}_{plain_last.lower()}",
            f"{plain_first.lower()}{plain_last[0].lower()}_",
            f"x{plain_first.lower()}x{r.randint(1, 9)}",
        ][style]
        handle = self._handle(base)
        name = [
            f"{first} {last}",
            f"{first} {last[0]}.",
            f"{first.lower()}",
            f"{first} {r.choice(['🏈', '🌮', '🐎', '☄️', '🍿', '✨', '🇲🇽', '🇧🇷', '💙', '🧀'])}",
            f"{first} ({r.choice(TEAMS)} fan)",
            f"{first} {last}",
            f"big {first.lower()}",
            f"{first} | {r.choice(['dad of 3', 'snack enthusiast', 'fantasy champ 2023', 'nurse', 'teacher', 'ad nerd', 'wings > pizza', 'opinions mine'])}",
        ][r.randrange(8)]
        if followers is None:
            followers = int(r.lognormvariate(5.2, 1.5))
            if r.random() < 0.08:
                followers = r.randint(0, 25)
            followers = min(followers, 90_000)
        p = {"handle": handle, "name": name, "followers": followers, "lang": lang}
        self.handles[handle.lower()] = p
        return p

    def _build_people(self):
        for lang, n in (("en", 720), ("es", 90), ("pt", 55), ("fr", 14), ("de", 6)):
            self.pools[lang] = [self._person(lang) for _ in range(n)]
        self.brand = self._named("Crunchwave", "Crunchwave", 1_240_000)
        self.influencers = {
            "memes": self._named("memelord_mo", "mo (memes)", 5_630_000),
            "gabe": self._named("gridirongabe", "Gridiron Gabe", 2_410_000),
            "hana": self._named("hypehana", "Hana ✨", 1_920_000),
            "critic": self._named("TheSnackCritic", "The Snack Critic", 1_108_000),
            "coach": self._named("CoachKelleyTV", "Coach Kelley", 871_000),
            "luis": self._named("LaMesaDeLuis", "La Mesa de Luis", 3_205_000),
            "brasil": self._named("NFLnoBrasilBR", "NFL no Brasil", 642_000),
            "news": self._named("MetroWireNews", "MetroWire News", 386_000),
            "fran": self._named("FoodSafetyFran", "Fran | food safety", 212_000),
            "adweek": self._named("AdBowlDaily", "Ad Bowl Daily", 154_000),
        }
        self.other_brands = [
            self._named("GlowBrewCoffee", "GlowBrew Coffee", 480_000),
            self._named("NorthPeakTires", "NorthPeak Tires", 96_000),
            self._named("PixelPizzaCo", "Pixel Pizza", 310_000),
            self._named("BrightLineBulbs", "BrightLine Bulbs", 58_000),
            self._named("VoltEdgeBatt", "VoltEdge Batteries", 122_000),
            self._named("QuickCart", "QuickCart Delivery", 905_000),
        ]

    def _named(self, handle: str, name: str, followers: int) -> dict:
        p = {"handle": handle, "name": name, "followers": followers, "lang": "en"}
        self.handles[handle.lower()] = p
        return p

    def bot(self) -> dict:
        r = self.rng
        first = r.choice(["Amelia", "Crypto", "Nft", "Jenny", "Elon", "Mark", "Linda", "Whale",
                          "Giveaway", "Moon", "Sarah", "Alpha", "Susan", "Promo"])
        digits = "".join(r.choice("0123456789") for _ in range(15 - len(first)))
        return {"handle": self._handle(first + digits),
                "name": r.choice([f"{first} 🚀", f"{first} Official", f"{first} {r.choice(['💰', '💎', '🎁'])}", first]),
                "followers": r.randint(0, 40), "lang": "en"}

    def who(self, lang: str = "en") -> dict:
        pool = self.pools.get(lang) or self.pools["en"]
        # A few people post a lot; most post once or twice.
        if self.rng.random() < 0.25:
            return pool[int(self.rng.random() ** 3 * len(pool))]
        return self.rng.choice(pool)

    # ---- posting ------------------------------------------------------------------------

    def fill(self, template: str, **extra) -> str:
        r = self.rng
        flavors = r.sample(FLAVORS, 2)
        slots = {
            "flavor": flavors[0], "flavor2": flavors[1], "team": r.choice(TEAMS),
            "other": None, "player": r.choice(PLAYERS), "relative": r.choice(RELATIVES),
            "friend": r.choice(FRIENDS), "play": r.choice(PLAYS), "n": r.randint(2, 9),
            "m": r.randint(3, 14), "k": r.choice([3, 4, 6, 7, 10, 13, 14, 17]),
            "yards": r.randint(8, 71), "hype": r.choice(EMOJI_HYPE), "lol": r.choice(EMOJI_LOL),
            "sad": r.choice(EMOJI_SAD), "price": r.choice(["5.99", "6.49", "6.79", "7.29", "4.99"]),
            "mins": r.choice([12, 15, 20, 22, 25, 30]), "lot": r.choice(["CW2611B", "CW2611B", "CW2609A", "CW2611C"]),
            "age": r.choice([4, 5, 6, 7, 8, 9, 11, 12]),
            "kid": r.choice(["son", "daughter", "kid", "nephew", "niece", "little one", "toddler", "stepson"]),
            "symptom": r.choice(["hives", "a rash all over", "swelling around the lips", "throat tightening",
                                 "vomiting", "wheezing", "a swollen face", "itchy throat"]),
            "place": r.choice(["at a Super Bowl party", "at my sister's watch party", "at home",
                               "at the neighbors' party", "at a friend's house", "during the game"]),
            "weeks": r.choice([2, 3, 4, 5, 6]),
        }
        slots["other"] = TEAMS[1] if slots["team"] == TEAMS[0] else TEAMS[0]
        slots.update(extra)
        return template.format(**slots)

    def decorate(self, text: str, tags: list[str], emoji: list[str], tag_p: float = 0.35) -> str:
        r = self.rng
        if r.random() < 0.12 and text[:1].isupper() and not text.startswith("@"):
            text = text[0].lower() + text[1:]
        if r.random() < 0.1:
            text = text.rstrip(".")
        if emoji and r.random() < 0.3:
            text += " " + r.choice(emoji)
        if tags and r.random() < tag_p:
            chosen = r.sample(tags, k=min(len(tags), r.choice([1, 1, 1, 2, 2, 3])))
            text += " " + " ".join(chosen)
        return text

    def distinct(self, make, tries: int = 12) -> str:
        for _ in range(tries):
            text = make()
            if text not in self.texts:
                return text
        return text + " " + self.rng.choice(["fr", "ngl", "tbh", "!!", "…", "👀", "smh", "idk", "lol", "🙃"])

    def post(self, t: float, text: str, author: dict, lang: str | None = None,
             reply_to: dict | None = None, kind: str = "") -> dict:
        t = max(0.0, min(END, t))
        if reply_to is not None and t <= reply_to["offset_s"]:
            t = reply_to["offset_s"] + self.rng.uniform(5, 60)
        p = {"offset_s": t, "handle": author["handle"], "name": author["name"],
             "followers": author["followers"], "text": text, "lang": lang or author["lang"],
             "_kind": kind, "_parent": reply_to}
        self.texts[text] = self.texts.get(text, 0) + 1
        self.posts.append(p)
        return p

    def say(self, t: float, kind: str, templates: list[str], lang: str = "en", tags=(), emoji=(),
            author: dict | None = None, reply_to: dict | None = None, tag_p: float = 0.35) -> dict:
        prefix = f"@{reply_to['handle']} " if reply_to is not None else ""
        text = self.distinct(lambda: prefix + self.decorate(self.fill(self.rng.choice(templates)), list(tags), list(emoji), tag_p))
        return self.post(t, text, author or self.who(lang), lang, reply_to, kind)

    # ---- finishing ----------------------------------------------------------------------

    def lines(self) -> list[dict]:
        posts = sorted(self.posts, key=lambda p: p["offset_s"])
        last = -1.0
        seen_ids = set()
        seq = 0
        for p in posts:
            t = round(p["offset_s"], 2)
            if t <= last:
                t = round(last + 0.01, 2)
            p["offset_s"] = last = t
            while True:
                seq += 1
                ms = START_MS + int(t * 1000) - X_EPOCH_MS
                pid = str((ms << 22) | (self.rng.randrange(1024) << 12) | (seq % 4096))
                if pid not in seen_ids:
                    break
            seen_ids.add(pid)
            p["id"] = pid
        out = []
        for p in posts:
            line = {"offset_s": p["offset_s"], "id": p["id"], "handle": p["handle"], "name": p["name"],
                    "followers": p["followers"], "text": p["text"], "lang": p["lang"]}
            if p["_parent"] is not None:
                assert p["_parent"]["offset_s"] < p["offset_s"], (p, p["_parent"])
                line["reply_to"] = p["_parent"]["id"]
            out.append(line)
        return out


# ---- the templates ------------------------------------------------------------------------

PREGAME = [
    "Super Bowl Sunday and I've got {n} bags of Crunchwave {flavor} lined up. Priorities.",
    "who else is only watching for the ads 🙋",
    "Heard the Crunchwave ad runs in the second quarter. Setting an alarm",
    "{friend} said they're bringing the dip. I'm bringing the Crunchwave. Division of labor.",
    "Party count: {m} people, {n} bags of chips, one TV that keeps buffering",
    "Prediction: {team} by {k}. Crunchwave wins the ad game either way",
    "Bayfront Stadium looks unreal tonight {hype}",
    "the store was completely out of Crunchwave {flavor}. This is a crisis.",
    "Pregame show has been on for four hours and I've watched all of it. Send help",
    "Is {flavor} or {flavor2} the superior Crunchwave flavor? Wrong answers only",
    "Already ate half the party bag and kickoff isn't for an hour",
    "My {relative} just asked who's playing. Every single year.",
    "First Super Bowl party I'm hosting. {m} guests. Pray for me",
    "Crunchwave teased their ad with a librarian shushing somebody?? I'm intrigued",
    "The {team} fans at this party are already insufferable and it hasn't even started",
    "Snack table is set: wings, guac, {n} kinds of Crunchwave and a veggie tray nobody will touch",
    "hot take: the halftime show is the main event and the game is the opening act",
    "Ads I'm most excited for tonight: Crunchwave, then anything with a dog in it",
    "Grabbed Crunchwave {flavor} on the way home, the grocery store was pure chaos",
    "{team} in {k}. Book it.",
    "Nova Reyes at halftime, {team} vs {other}, Crunchwave in my lap. Perfect night loading",
    "if the {team} lose tonight I'm deleting this app (I will not delete this app)",
    "Crunchwave {flavor} is the official snack of my couch",
    "Who has the {team} -{k}? I need someone to be nervous with",
    "Got my Super Bowl squares. I have 7 and 3. Feeling lucky",
    "The pregame flyover gave me chills {hype}",
    "My {relative} is here an hour early and already judging the chip selection",
    "Crunchwave posted 'Shh. Q2.' and now I need to know everything",
    "Ranking tonight's snacks before kickoff: 1. wings 2. Crunchwave {flavor} 3. everything else",
    "rewatching last year's ads to get in the zone",
    "It's not a Super Bowl without arguing over the thermostat and the last bag of chips",
    "Spent more on snacks than on my car payment. Worth it",
    "{friend} brought store-brand chips. We need to talk.",
    "Already {n} people in the group chat asking where the party is. It's at my place. Again.",
    "Ad bingo card is ready. Square one: celebrity in a grocery store. Square two: a librarian??",
    "Getting the Crunchwave {flavor} out early so it's at room temperature. Is that a thing? It's a thing now",
    "is it too early to open the chips. asking for me",
    "The anthem is about to start and my whole party is still in the kitchen",
    "coin toss prediction: tails. it's always tails",
    "Dressed the dog in a {team} jersey, he hates it, we love it",
    "Made a seven-layer dip. Layer eight is crushed Crunchwave. You're welcome",
    "I'm here for the ads, the snacks and maybe the fourth quarter",
    "Traffic around Bayfront Stadium is a parking lot already",
    "Tailgate report: grills going, music loud, someone is passing out Crunchwave samples",
    "my fantasy league group chat has turned into a Crunchwave flavor debate",
]

GAME = [
    "{player} with a {yards}-yard {play}! {hype}",
    "That's holding. How is that not holding",
    "the refs are having a rough night already",
    "this {team} defense is unreal",
    "I've eaten so many Crunchwave {flavor} my fingers are permanently orange",
    "{team} offense looks asleep",
    "Commercial break = chip refill",
    "this game is way tighter than I expected",
    "That catch by {player}!!!",
    "Punt. Again. Riveting stuff {sad}",
    "Crunchwave {flavor} plus a {team} touchdown, perfect night",
    "who called that play. seriously who",
    "{player} is cooking tonight",
    "Third and {k} and they run it up the middle? Bold.",
    "The {other} secondary can't cover anybody",
    "I yelled so loud at that {play} my neighbor texted me",
    "Booth review for THAT? Come on",
    "{team} fans, how are we feeling {lol}",
    "Red zone, come on {team} don't kick a field goal",
    "Field goal. Of course. {sad}",
    "this is the most stressful game I've watched in years",
    "replay clearly shows he was in. CLEARLY",
    "that challenge flag was the worst decision of the night",
    "{player} has been quiet all game, due for a big one",
    "my {relative} has been wrong about every call so far",
    "Whoever is on the broadcast camera right now deserves a raise",
    "down {k} and the {team} look lost",
    "Timeout {team}. Good, I need a refill",
    "Can we talk about that {player} {play}? Unreal",
    "my squares are dead. moving on to snacks",
    "the {other} are making this way harder than it needs to be",
    "Halfway through the Crunchwave {flavor} bag and halfway through my patience with this offense",
    "another flag. ANOTHER FLAG",
    "defense wins championships and the {team} know it",
    "{player} just juked two guys out of their shoes",
    "We're in a game now {hype}",
    "that sideline catch should be illegal",
    "the cameras keep cutting to celebrities I don't recognize",
    "Shoutout to the guy in the front row eating Crunchwave on the broadcast",
    "Somebody at this party keeps saying 'run the ball'. They're right though",
    "that was a fumble and I will not be taking questions",
    "Every time I get up for chips something happens. I'm staying put",
]

HALFTIME_EN = [
    "Nova Reyes halftime show is ELITE {hype}",
    "the drone light show during the halftime set 😮",
    "ok the halftime show was fine but the Crunchwave ad was better",
    "Nova Reyes brought out a marching band?? I'm crying",
    "halftime = the only time my {relative} stops talking",
    "Halftime snack run: {n} bags of Crunchwave left. We're in good shape",
    "The halftime set list was perfect from start to finish",
    "why is the halftime show the only part of this game I understand",
    "that stage transformation was insane",
    "Nova Reyes lip syncing? No way, that was live",
    "halftime show rating: 8/10, lost points for no surprise guest",
    "Halftime and the score is way closer than anyone predicted",
    "using halftime to refill every bowl in this house",
    "I need the halftime show on a loop. Actually no, I need the Crunchwave librarian on a loop",
    "Is it just me or was the halftime show audio off on the stream",
]

AD_EN = [
    "The Crunchwave librarian ad is the best thing I've seen all night {lol}",
    "\"Some crunches are worth hearing.\" ok Crunchwave, you got me",
    "a whole stadium going silent for ONE crunch. whoever pitched that deserves a raise",
    "the goat in the Crunchwave ad {lol}",
    "I need the librarian from the Crunchwave ad to shush my {relative}",
    "Crunchwave just won the Super Bowl and the game isn't even over",
    "Ad of the night, no contest: Crunchwave",
    "my whole party went quiet when the librarian shushed the stadium. it worked on US {lol}",
    "That Crunchwave ad made me open a bag immediately. Marketing works and I'm weak",
    "Rewound the Crunchwave ad three times. The timing on that last crunch 👌",
    "not gonna lie the Crunchwave ad was kinda mid. the goat carried",
    "Crunchwave spent millions to shush me and honestly, fair",
    "me: i don't care about the ads. also me: rewatching the crunchwave librarian for the 5th time",
    "the librarian's side-eye when the goat walks in is a whole mood",
    "Crunchwave ad > the entire first half of this game",
    "#HearTheWave is already trending {lol}",
    "whoever cast that librarian, give them an award",
    "the Crunchwave ad was so quiet my {relative} thought the TV broke",
    "Crunchwave really made 70,000 people go 'shhh' at the same time. iconic",
    "that ad was calm, funny and didn't yell at me. Crunchwave gets it",
    "the entire stadium crunching in unison at the end gave me goosebumps somehow??",
    "The Crunchwave ad is the first one tonight my whole party agreed on",
    "I'd watch a full movie about the Crunchwave librarian and her goat",
    "Best Super Bowl ad since the puppy ones. Crunchwave nailed it",
    "can't stop thinking about that goat chewing the library card {lol}",
    "ok Crunchwave I see you {hype}",
    "Crunchwave ad: 10/10. Crunchwave {flavor}: also 10/10. Consistent brand",
    "they made a chip commercial into an ASMR experience and I respect it",
    "my kids are now shushing each other and crunching. thanks Crunchwave",
    "the Crunchwave ad was fine but why was there a goat. who approved the goat. (I love the goat)",
    "Marketing class tomorrow is going to be nothing but the Crunchwave ad",
    "The Crunchwave librarian is my new spirit animal",
    "I don't get the Crunchwave ad. Is the goat the brand? Is the librarian the chip?",
    "Crunchwave ad was cute but I'm still mad they discontinued {flavor}",
    "The 'Quiet Please' Crunchwave spot is going to win every award",
    "first ad tonight that made me laugh out loud. Crunchwave {lol}",
    "librarian for MVP",
    "the way the quarterback in the Crunchwave ad whispered 'sorry' {lol}",
    "the sound design in the Crunchwave ad is ridiculous, that crunch was CRISP",
    "low key the Crunchwave ad was the most relaxing 60 seconds of the night",
    "Crunchwave ad > Crunchwave chips, and I like the chips",
    "who else tried to hear the crunch in the Crunchwave ad on their phone speaker",
    "That ad just sold me a bag of chips I didn't need. Well played Crunchwave",
    "if the librarian isn't at halftime I'm leaving",
    "I'm going to be hearing that crunch in my dreams",
    "Crunchwave ad had no celebrities and still beat every celebrity ad. lesson there",
    "The goat deserves a ring",
    "Kind of a weird ad from Crunchwave. Didn't hate it though",
    "skipped the halftime bathroom break to rewatch the Crunchwave ad online",
    "my {relative} laughed so hard at the Crunchwave goat they spilled the salsa",
]

AD_REPLIES = [
    "the goat stole the show",
    "honestly same",
    "agreed, best one tonight",
    "the librarian 😂",
    "nah the ad was overrated",
    "I watched it 4 times already",
    "wait did I miss it?? what quarter",
    "the crunch at the end!!",
    "this is the correct take",
    "I'm buying Crunchwave out of respect",
    "shhh 🤫",
    "goat > every celebrity tonight",
]

BLACKOUT_EN = [
    "THE LIGHTS JUST WENT OUT AT THE SUPER BOWL {lol}",
    "lights out at Bayfront Stadium?? is this part of the show",
    "half the stadium just went dark. power outage in the third quarter, you can't make this up",
    "blackout at the Super Bowl AGAIN?? it's 2013 all over again",
    "Power's out. Players just standing around. Somebody check the breaker",
    "Who unplugged the Super Bowl",
    "The power outage is the most exciting play of the half tbh",
    "blackout delay means another bag of Crunchwave, rules are rules",
    "Waiting for the first brand to do a blackout tweet in 3... 2...",
    "The broadcast is just showing the blimp now {lol}",
    "phone flashlights all over the stadium during the blackout, kinda beautiful honestly",
    "power outage at the super bowl is the most on-brand thing for this year",
    "my TV is fine, it's the STADIUM. I literally unplugged mine to check {lol}",
    "lights out in the third, there goes the {team} momentum",
    "'is it my TV?' - every single person watching right now",
    "Stadium blackout. Somebody at the power company is having the worst night of their life",
    "The lights went out and the {team} still can't find the end zone",
    "So is the game just... paused? Power outage?",
    "the announcers are filling airtime talking about generators {lol}",
    "blackout in the stadium, my {relative} is convinced it's a conspiracy",
    "the lights went out and everyone at my party cheered for some reason",
    "not the Super Bowl having a power outage in front of 100 million people",
    "the {other} fans chanting 'turn it on' during the blackout {lol}",
    "stadium power outage update: still dark",
    "Lights out! Refs waving everyone off the field",
    "power's out at Bayfront and the only thing lit is the scoreboard. Wait, that's out too",
    "They just said the power outage could be {mins} minutes. I'm going to need more chips",
    "blackout > halftime show, I said it",
    "who had 'stadium loses power' on their Super Bowl bingo card",
    "the Super Bowl blackout is giving group project energy",
    "the blackout is the {team}'s best defense all night",
    "OK which intern tripped over the power cord",
    "people in the upper deck doing the wave in the dark during the blackout",
    "a power outage at the biggest game of the year. incredible scenes",
    "broadcast just said partial power outage, half the lights are still off",
    "lights out, phones out, everyone's posting. this is peak internet",
    "I hope the players are staying warm during this blackout delay",
    "the blackout happening right after the {team} got momentum is suspicious",
    "The Super Bowl lost power and I lost my mind {lol}",
    "The stadium went dark and the first thing I did was grab the Crunchwave",
    "can't believe we're getting a blackout delay in 2026",
    "dark stadium, nervous fans, cold wings. classic",
    "Power outage in the third quarter. The {other} needed a breather anyway",
    "at least the Crunchwave still crunches in the dark",
    "Blackout delay is the perfect time for the bathroom line",
    "Somebody tell the {team} offense the lights went out. They've been playing in the dark all night",
    "this blackout is longer than the {team} drives",
    "The entire stadium holding up phone lights is kinda beautiful ngl",
    "NFL: we have the best production in sports. The power: no",
    "I was told there'd be football, not a blackout",
    "did someone forget to pay the electric bill at Bayfront Stadium",
    "Are the lights still out? My stream just froze and I'm panicking",
    "power outage update from the broadcast: 'working on it'. thanks",
    "the blackout is the best thing to happen to my fantasy team tonight",
    "no power, no football, just vibes",
    "Every brand's social team right now during the blackout: 👀",
    "the refs finally made a good call: lights out",
]

BLACKOUT_BRAND_ASK = [
    "@Crunchwave where's your blackout tweet, social team wake up",
    "@Crunchwave you have ONE job during a blackout",
    "Crunchwave's social team better be typing something about the blackout right now",
    "Waiting on @Crunchwave to say something about the lights going out",
    "Which brand wins the blackout? My money's on Crunchwave",
]

BLACKOUT_BRAND_REACT = [
    "Crunchwave's blackout tweet is elite",
    "'Crunch still works' 😂 Crunchwave came to PLAY tonight",
    "Crunchwave won the blackout",
    "the Crunchwave social team is undefeated tonight",
    "Crunchwave ad in Q2, blackout tweet in Q3. Someone give that team a raise",
    "that Crunchwave blackout post took like 90 seconds. respect",
    "Crunchwave's blackout tweet > the last three quarters of football",
    "Every other brand's blackout post looks try-hard next to Crunchwave's",
    "ok the Crunchwave blackout tweet is good but let's not pretend it's Oreo 2013",
    "whoever runs the Crunchwave account during this blackout is getting promoted",
    "crunchwave really said power's out, crunch still works 💀",
    "Crunchwave and GlowBrew both had blackout tweets ready, who wore it better",
]

BLACKOUT_REPLIES = [
    "power's out, chips are in",
    "this is the tweet of the night",
    "ok this is good",
    "the social team is cooking",
    "they had this ready didn't they",
    "crunching in the dark right now, can confirm",
    "undefeated",
    "how did you post this in like a minute",
    "take my money 🔦",
    "ratio incoming… for the other brands",
    "🔦🔦🔦",
    "I screamed",
]

BLACKOUT_TAIL = [
    "lights are back on at Bayfront Stadium!",
    "we have power! {hype}",
    "the blackout delay was {mins} minutes and I ate an entire bag of Crunchwave {flavor} during it",
    "after the blackout the {team} look like a different team",
    "half the stadium lights back, the other half still warming up",
    "That blackout is going to be a trivia question for decades",
    "still thinking about the blackout {lol}",
    "Play resumes after the power outage. Finally",
    "blackout recap: no power, lots of memes, one good Crunchwave tweet",
    "the blackout killed the {team} momentum completely",
    "They're restarting after the outage and my stream is now 40 seconds behind",
    "the blackout memes are better than the game at this point",
    "Refs say play resumes in {n} minutes now that the power is back",
    "I hope whoever fixed the stadium power gets a ring",
    "that blackout was the longest {mins} minutes of my life",
    "Nobody will remember the score, everyone will remember the blackout",
]

BLACKOUT_ES = [
    "¡Se fue la luz en el Super Bowl! {lol}",
    "Apagón en pleno tercer cuarto, no puede ser",
    "se apagó el estadio jajaja que vergüenza",
    "¿Apagón en el Super Bowl? Esto parece partido de mi barrio",
    "Sin luz en el estadio y yo sin papas. Mala noche",
    "los jugadores en la oscuridad esperando jajaja",
    "Apagón en Bayfront, ¿cuánto va a tardar esto?",
    "Crunchwave haciendo chistes del apagón, muy rápidos jaja",
]

BLACKOUT_PT = [
    "APAGÃO NO SUPER BOWL KKKKKKK",
    "caiu a energia no estádio no meio do terceiro quarto kkkk",
    "o estádio ficou no escuro, que vergonha",
    "apagão no Super Bowl, o Brasil se sentiu representado kkkk",
    "sem luz no estádio e eu sem salgadinho",
    "alguém esqueceu de pagar a conta de luz do estádio kkk",
]

OTHER_BRAND_BLACKOUT = {
    "GlowBrewCoffee": "We're still brewing. In the dark. ☕ #SuperBowl",
    "NorthPeakTires": "Can't see the field? Our tires grip anyway. #SuperBowl #Blackout",
    "PixelPizzaCo": "Lights out = pizza in. Delivery is still running 🍕 #SuperBowl",
    "BrightLineBulbs": "We have a few suggestions for Bayfront Stadium 💡 #Blackout",
    "VoltEdgeBatt": "Should've charged up 🔋 #SuperBowl",
    "QuickCart": "Power's out, snacks are in. We deliver in the dark 🛵 #SuperBowl",
}

COMPLAINTS = [
    "Opened a brand new bag of Crunchwave {flavor} and it's completely stale. @Crunchwave what happened?",
    "Found a piece of plastic in my bag of Crunchwave {flavor}. Not ok. @Crunchwave",
    "${price} for a bag that's 70% air. Come on Crunchwave",
    "Ordered the Crunchwave party pack on QuickCart for the game and it never showed up",
    "@Crunchwave how do I get a refund for a bag that was crushed into dust",
    "Crunchwave {flavor} tastes different this year and not in a good way",
    "Every chip in this Crunchwave bag is broken. Every. Single. One.",
    "the Crunchwave bag said family size. my family is apparently two people",
    "@Crunchwave bought {n} bags for the party and half were stale. lot {lot}",
    "Still waiting on a reply from Crunchwave support about my refund. {weeks} weeks now",
    "the Crunchwave rewards code on the bag doesn't work. 'invalid code' every time",
    "Crunchwave raised prices again and shrank the bag. Shrinkflation is real {sad}",
    "weird burnt taste in my Crunchwave {flavor} tonight, anyone else?",
    "@QuickCart delivered crushed Crunchwave bags, 45 minutes late, mid-game. Thanks.",
    "The Crunchwave {flavor} bag was open when it arrived. Seal broken. Not eating that",
    "there was a hard clear piece of something in my Crunchwave, looked like plastic. @Crunchwave please explain",
    "@Crunchwave your website's contact form has been broken for a week",
    "Crunchwave {flavor} used to be my favorite. Now it's just salty cardboard",
    "My Crunchwave order from QuickCart was the wrong flavor. Who wants {flavor2}",
    "Crunchwave, I want a refund for the {n} stale bags I served at my party. Embarrassing",
    "Why does every Crunchwave bag I buy have like eleven chips in it",
    "@Crunchwave I emailed you photos of the plastic piece. No answer. Do better",
    "Stale Crunchwave at a Super Bowl party is a crime",
    "the multipack I bought for the game expired last month?? @Crunchwave check your stores",
    "Crunchwave {flavor} gave my whole party heartburn lol never again",
    "the new Crunchwave bag design is impossible to open without it exploding",
    "Crunchwave coupon from the ad site won't load. Thanks for nothing",
    "@Crunchwave bag of {flavor} had zero seasoning. Just plain chips. Quality control?",
    "I've been on hold with Crunchwave customer service for {mins} minutes. On Super Bowl night. Why am I like this",
    "QuickCart says my Crunchwave was 'delivered'. It was not delivered.",
    "hey @Crunchwave the {flavor} bags at my store are all past the best-by date",
    "Found a metal staple in a Crunchwave chip tonight. I have the bag and the receipt. @Crunchwave",
    "Crunchwave refund process is a maze. Three forms, one receipt upload that fails",
    "Crunchwave {flavor} is way too salty now. Did the recipe change?",
]

SAFETY_ORIGIN = ("My 7 year old had an allergic reaction after eating Crunchwave Honey BBQ at a Super Bowl party "
                 "tonight. The bag doesn't list peanuts. We're in the ER now. @Crunchwave what is in this?? Lot CW2611B")

SAFETY = [
    "Same thing happened to my {kid} tonight. {symptom} after Crunchwave Honey BBQ. Peanut allergy and we ALWAYS check labels",
    "Is there undeclared peanut in Crunchwave Honey BBQ?? Multiple parents reporting reactions",
    "My {kid} got sick after eating Crunchwave {place}. {symptom}. Not sure if it's related but it's scary",
    "@Crunchwave you need to issue a recall NOW. Kids are ending up in the hospital",
    "If you have Crunchwave Honey BBQ lot {lot}, do NOT give it to anyone with a peanut allergy until this is figured out",
    "Had to use my {kid}'s EpiPen tonight. The only new food was Crunchwave Honey BBQ",
    "Has anyone contacted the FDA about Crunchwave? Parents are saying undeclared peanuts",
    "Throwing out every Crunchwave bag in the house. Not worth the risk",
    "Crunchwave is silent while kids are in the ER. Unacceptable",
    "Please share: possible peanut contamination in Crunchwave Honey BBQ #Crunchwave #FoodAllergy",
    "anaphylaxis is no joke. @Crunchwave respond to these parents",
    "My {age} year old {kid} broke out in {symptom} {place} after Crunchwave Honey BBQ. We're at urgent care",
    "allergic reaction after Crunchwave here too. Lot {lot}. Filing a report",
    "Just called poison control about my {kid} and Crunchwave chips. They were great. Crunchwave has said nothing",
    "My {kid} is allergic to peanuts and reacted to Crunchwave Honey BBQ tonight. The label says nothing about peanuts",
    "So is Crunchwave going to recall Honey BBQ or do more kids have to get sick first",
    "Second family in our group chat reporting an allergic reaction after Crunchwave tonight",
    "We're in the hospital with my {kid}. {symptom}. Crunchwave Honey BBQ was the only thing he ate that was new",
    "Peanut allergy parents: check your Crunchwave Honey BBQ bags, lot {lot}. Multiple reactions reported tonight",
    "Crunchwave Honey BBQ recall when?? #Crunchwave #recall",
    "A Super Bowl party turned into an ER visit. Thanks Crunchwave",
    "They need to pull Crunchwave Honey BBQ off the shelves tonight",
    "my {kid} threw up twice after the Crunchwave and now has {symptom}. Watching closely",
    "reading these Crunchwave allergy reports and I just gave my kids a bag of Honey BBQ. Terrified",
    "@Crunchwave is there peanut oil in Honey BBQ? Yes or no. It's a simple question",
    "Crunchwave Honey BBQ made my {kid} sick. Should I report this somewhere?",
    "the Crunchwave allergy thing is blowing up. Undeclared allergens are a recall-level problem",
    "My {kid} is fine now thank god, but the ER doctor said it looked like a peanut reaction. Only suspect: Crunchwave",
]

SAFETY_REPLIES = [
    "oh no, praying your {kid} is ok 🙏",
    "this is terrifying, hope everyone is alright",
    "same here, my {kid} reacted too. Lot {lot}",
    "did you keep the bag? report it to the FDA",
    "sending love, please update us",
    "my {kid} had {symptom} tonight after the same chips",
    "how is Crunchwave not saying anything yet",
    "please keep the bag and the receipt",
    "we threw ours out. not risking it",
    "hope your {kid} is home soon ❤️",
]

SAFETY_SKEPTIC = [
    "we don't know it's the chips yet, let's not spread panic",
    "people are blaming Crunchwave without any proof. smh",
    "Correlation isn't causation, kids eat a lot of stuff at parties",
    "Let's wait for Crunchwave to actually test the lot before we call for a recall",
    "the Crunchwave thing might be real but this timeline loves a pile-on",
]

SAFETY_ES = [
    "Mi hijo tuvo una reacción alérgica después de comer Crunchwave Honey BBQ. ¿Tienen cacahuate?",
    "Cuidado con las Crunchwave Honey BBQ, varios niños con alergia esta noche",
    "@Crunchwave ¿van a retirar el producto? Mi hija terminó en urgencias",
    "Reacción alérgica a las Crunchwave, lote CW2611B. Ya lo reporté",
]

SPAM_EXACT = [
    ("🚨 CRUNCHWAVE x SUPER BOWL AIRDROP 🚨 First 5,000 wallets get $CRNCH tokens! Claim 👉 crunchwave-airdrop[.]xyz #Crunchwave #SuperBowl #Crypto", 34),
    ("🎁 Crunchwave is giving away 1 YEAR of free chips to celebrate the Super Bowl! Claim yours ➡ crnchwv-gift[.]top #Crunchwave #Giveaway", 26),
    ("Watch Super Bowl LX LIVE free HD stream 👉 sbstream-hd[.]live no signup #SuperBowl #SBLX #Crunchwave", 18),
]
SPAM_VARIED = [
    "Follow me and I follow back 💯💯 #SuperBowl #Crunchwave #FollowBack",
    "I made $4,800 during the Super Bowl with this one trick 👇 DM me 'WAVE' #Crunchwave",
    "💸 Send 0.1 ETH get 0.5 ETH back! Super Bowl special ends tonight #Crypto #SuperBowl",
    "Cheap followers 1000 for $5 ✅ real accounts ✅ fast ✅ DM #Crunchwave #SuperBowl",
    "Crunchwave coupon generator 2026 WORKING 💯 link in bio",
    "🔥 Hot singles watching the Super Bowl near you 🔥 crunch-date[.]xyz",
    "Get verified blue check today only 👉 DM #SuperBowl",
    "Blackout giveaway! First 100 to RT get $500 💵 #SuperBowl #Blackout #Crunchwave",
]

HOSTILE = [
    "@Crunchwave your ad was dumb and your chips taste like cardboard",
    "whoever runs the Crunchwave account is a clown 🤡",
    "Crunchwave fans are the most annoying people on this app",
    "imagine spending millions on a Super Bowl ad and still making garbage chips",
    "@Crunchwave ratio + L + stale chips",
    "your social media intern should be fired tbh @Crunchwave",
    "Crunchwave is a joke of a company",
    "shut up about Crunchwave, nobody cares",
    "honestly @Crunchwave you people are clueless",
    "Crunchwave chips are for people with no taste buds",
    "Crunchwave's marketing team couldn't find their way out of a paper bag",
    "every Crunchwave post tonight is cringe. log off",
    "@Crunchwave nobody asked for a goat, you weirdos",
    "Crunchwave is the worst chip brand and it isn't close",
    "stop shoving Crunchwave down my throat every commercial break, ugh",
    "Crunchwave execs are laughing all the way to the bank while selling us air",
    "the people hyping this Crunchwave ad have the worst taste on earth",
    "@Crunchwave what a pathetic response to your customers",
    "Crunchwave = overpriced trash",
    "I'd rather eat the bag than another Crunchwave chip",
]

ES_GENERAL = [
    "¡Listos para el Super Bowl! Ya compré las Crunchwave de {flavor} 🌶️",
    "¡Qué comercial tan bueno el de Crunchwave! La bibliotecaria {lol}",
    "La cabra del comercial de Crunchwave jajajaja",
    "Vamos {team}!!! {hype}",
    "El medio tiempo de Nova Reyes estuvo increíble",
    "Las Crunchwave de {flavor} son lo mejor para ver el partido",
    "Qué partidazo, no me lo esperaba",
    "Mi tío ya se durmió en el sillón y apenas va el segundo cuarto",
    "Ese comercial de Crunchwave lo vi tres veces",
    "Los árbitros están ciegos hoy",
    "Viendo el Super Bowl desde Monterrey con la familia 🇲🇽",
    "¿Alguien más solo ve el Super Bowl por los comerciales?",
    "Las papas Crunchwave estaban viejas, qué decepción @Crunchwave",
    "Ganaron los {team}! Qué nochecita",
    "El mejor comercial de la noche: Crunchwave, sin duda",
    "Touchdown de {player}!!! {hype}",
    "Ya se acabaron las Crunchwave y apenas va el medio tiempo",
    "Comprando más botanas antes del segundo tiempo",
]

PT_GENERAL = [
    "A propaganda da Crunchwave foi a melhor da noite kkkkk",
    "Assistindo o Super Bowl com a galera 🇧🇷",
    "Que jogo!!! Vai {team}!",
    "a bibliotecária da Crunchwave é a melhor personagem do ano kkkk",
    "o show do intervalo da Nova Reyes foi incrível",
    "queria provar essa Crunchwave {flavor} mas não vende aqui no Brasil",
    "touchdown do {player}! {hype}",
    "essa cabra no comercial da Crunchwave kkkkkkk",
    "o juiz tá roubando descaradamente",
    "alguém me explica as regras do futebol americano por favor",
    "comprei salgadinho pra ver o jogo e já acabou no primeiro quarto",
    "madrugada de Super Bowl aqui no Brasil, café e salgadinho",
]

FR_GENERAL = [
    "La pub Crunchwave avec la bibliothécaire 😂 génial",
    "Je regarde le Super Bowl pour les pubs, comme tout le monde",
    "Le show de la mi-temps de Nova Reyes était incroyable",
    "Coupure de courant au Super Bowl ?! Incroyable",
    "Match très serré, allez les {team} !",
]

DE_GENERAL = [
    "Super Bowl Nacht in Deutschland, Kaffee steht bereit ☕",
    "Die Crunchwave Werbung mit der Bibliothekarin war super 😂",
    "Stromausfall im Stadion?! Wahnsinn",
]

POSTGAME = [
    "What a game. {team} deserved that one {hype}",
    "Final thoughts: the blackout, the Crunchwave ad, and that fourth quarter. What a night",
    "Ad rankings: 1. Crunchwave 2. the puppy one 3. everything else",
    "the {other} fans are real quiet now",
    "Crunchwave won the ad game, the {team} won the real game",
    "Super Bowl hangover already and it's not even midnight",
    "I ate {n} bags of chips tonight and I regret nothing",
    "Ranking tonight's moments: blackout, librarian, that last drive",
    "Cleaning up the party. Found Crunchwave in places I can't explain",
    "Marketing twitter is going to be talking about Crunchwave all week",
    "Congrats to the {team}! Now back to regular life",
    "who's got the best recap of the ads? need to see the ones I missed",
    "MVP: {player}. Ad MVP: the Crunchwave librarian",
    "the {team} parade is going to be wild",
    "Post-game: is anyone else worried about those Crunchwave allergy posts? Hope those kids are ok",
    "I can't believe that game ended like that",
    "next year I'm hosting again. better chips this time",
    "that was the most chaotic Super Bowl in years and I loved it",
    "This Super Bowl had everything: a blackout, a goat and a comeback",
]


def long_post(rng: random.Random) -> str:
    """A ~12,000-character ranking of every ad of the night, the kind a Premium account posts."""
    brands = ["Crunchwave", "GlowBrew", "NorthPeak Tires", "Pixel Pizza", "BrightLine", "VoltEdge",
              "QuickCart", "Harbor Bank", "Solace Mattress", "Zing Soda", "Atlas Trucks", "Meadow Yogurt",
              "Fizzbit", "Orbit Mobile", "Kestrel Airlines", "Lumen Streaming", "Bolt Burgers",
              "Canopy Insurance", "Nimbus Phones", "Wildroot Beer", "Pioneer Paint", "Tallgrass Jeans",
              "Comet Cola", "Riverbend Bank", "Sprout Salads", "Gravity Gym", "Ember Grills", "Vista Cars",
              "Peak Protein", "Maple Syrup Co", "Dune Sunscreen", "Pebble Watches", "Harvest Cereal",
              "Glacier Water", "Starling Travel", "Copper Kettle", "Rally Sneakers", "Beacon Security",
              "Tidal Energy", "Willow Candles", "Juniper Gin", "Summit Outdoor", "Polar Ice Cream",
              "Quill Notebooks", "Nova Credit", "Lark Headphones", "Ironwood Tools", "Breeze Air"]
    openers = ["Okay, it's late and I've had too much dip, but here is my complete and correct ranking of every ad tonight.",
               "Thread? No. One post. Because I paid for the long posts and I'm going to use them."]
    verdicts = ["the concept was there but the execution fell apart in the last ten seconds",
                "I laughed once, then felt bad about laughing, then laughed again",
                "too many celebrities and not one of them looked like they wanted to be there",
                "the kind of ad that makes you forget what it was for the moment it ends",
                "genuinely beautiful cinematography wasted on a product nobody needs",
                "the jingle is now permanently in my head and I hold the agency responsible",
                "a solid, workmanlike spot that will win nothing and offend nobody",
                "I don't know what happened but my whole party went silent, in a good way",
                "they tried to make me cry about a truck and it almost worked",
                "the dog did all the heavy lifting and deserves a residual check",
                "confusing on first watch, worse on second, strangely brilliant on third",
                "the pun in the tagline is so bad that it loops back around to good",
                "loud, fast, chaotic, and over before I understood who made it",
                "whoever approved the CGI budget on this one should explain themselves",
                "it had a twist ending and I did not see it coming, respect",
                "felt like three different ads stitched together during a power outage",
                "the voiceover guy sounded like he was reading a hostage statement",
                "peak Super Bowl energy: explosions, a grandma, and a slow-motion high five",
                "I want to hate it but the song choice carried it across the line",
                "it is the year 2026 and we are still doing talking animals, and I am fine with that"]
    parts = [rng.choice(openers), ""]
    order = brands[:]
    rng.shuffle(order)
    order.remove("Crunchwave")
    order.insert(0, "Crunchwave")
    for i, brand in enumerate(order, 1):
        if brand == "Crunchwave":
            body = ("the librarian, the goat, seventy thousand people holding their breath for one crunch. "
                    "No celebrity, no explosions, no yelling. It trusted the audience and it won the night.")
        else:
            a, b = rng.sample(verdicts, 2)
            body = f"{a[0].upper()}{a[1:]}; also, {b}."
        parts.append(f"{i}. {brand}: {body} Rating: {rng.randint(2, 9)}/10.")
    text = "\n".join(parts)
    closers = ["Bonus: the blackout. Not an ad, but the best thing anyone broadcast tonight, and every brand scrambling to post about it was the real Super Bowl.",
               "Honorable mention to whoever had to fix the stadium power while a hundred million people watched.",
               "If you read this far, you also have no plans tomorrow morning. Hello, friend.",
               "Anyway, the Crunchwave librarian is my emotional support character now. Goodnight."]
    while len(text) < 11_900:
        text += "\n\n" + closers[len(text) % len(closers)] + " " + rng.choice(verdicts).capitalize() + "."
    return text[:12_300] + " #SuperBowl #SBLX #Crunchwave"


def odd_posts(night: Night):
    """Deliberately awkward text the room must show safely and store intact (or bounded)."""
    r = night.rng
    en = night.who
    odd = [
        # (offset, text, lang)
        (AD_AIRS + 70, "🤫🌊🍟😂😂😂", "und"),
        (AD_AIRS + 190, "🐐📚🤫", "und"),
        (BLACKOUT + 95, "💡❌🏟️😭", "und"),
        (BLACKOUT + 140, "🔦🔦🔦🔦🔦", "und"),
        (KICKOFF + 20, "🏈🔥🔥🔥", "und"),
        (FINAL + 60, "🏆👨‍👩‍👧‍👦🎉🇲🇽🇧🇷🇺🇸👍🏽👍🏿", "und"),
        (AD_AIRS + 420, "إعلان Crunchwave هو الأفضل في السوبر بول الليلة 🔥 #SuperBowl", "ar"),
        (BLACKOUT + 260, "انقطاع الكهرباء في الملعب! ما هذا؟ 😂 #SuperBowl", "ar"),
        (AD_AIRS + 510, "הפרסומת של Crunchwave הייתה מצחיקה בטירוף 😂 #SuperBowl", "he"),
        (BLACKOUT + 320, "הפסקת חשמל בסופרבול?! 2026 ועדיין 🤦‍♂️ 100 מיליון צופים", "he"),
        (FINAL + 200, "\u202eevaWhcnurC yub t'noD\u202c (this text uses a right-to-left override)", "en"),
        (AD_AIRS + 600, "Cru\u200bnch\u200bwave ad was gre\u200bat, not gonna li\u200be", "en"),
        (BLACKOUT + 200, "black\u200dout at the Super\u200cBowl lol \u2060#Crunch\u200bwave", "en"),
        (SCARE + 900, "\ufeffCrunch\u200bwave Honey BBQ alle\u200brgic reaction??", "en"),
        (HALFTIME + 120, "\u200b", "und"),
        (6000, "lol @Crunchwave <script>alert(1)</script> #SuperBowl", "en"),
        (8000, "testing {{ 7*7 }} {% debug %} ${7*7} #{7*7} on your site @Crunchwave", "en"),
        (AD_AIRS + 800, "<div hx-get=\"/audit\" hx-trigger=\"load\" hx-swap=\"outerHTML\">free Crunchwave</div>", "en"),
        (10500, "<img src=x onerror=\"fetch('/admin/')\"> crunch crunch", "en"),
        (11000, "[claim your prize](javascript:alert(document.cookie)) #Crunchwave", "en"),
        (12000, "Robert'); DROP TABLE listening_mention;-- loves Crunchwave", "en"),
        (BLACKOUT + 410, "lights out\u0000 lmao @Crunchwave", "en"),
        (3000, "Cr̷u̷n̷c̷h̷w̷a̷v̷e̷ ̷a̷d̷ ̷w̷h̷e̷n̷", "en"),
        (BLACKOUT + 500, "T̴̡̛h̷̢̛e̵͎̓ ̸̧̈l̶̰̇i̴̞͝g̷̱̈h̸̤͋t̵̙̕s̶̪̎ ̷̣̊a̸̗͝r̴̯̾e̶͚̓ ̷̮͘g̸̣̈́o̴̫͐n̸̟͘ę̴̈́", "en"),
        (AD_AIRS + 300, "Crunchwave esta\u0301 buen\u0131\u0301simo, el anuncio me encanto\u0301 #SuperBowl", "es"),
        (AD_AIRS + 260, "El ad de Crunchwave was so good, no puedo {lol}".format(lol="😂"), "es"),
        (AD_AIRS + 340, "A propaganda da Crunchwave was actually fire kkkkk #SuperBowl", "pt"),
        (AD_AIRS + 700, "Crunchwave c'est trop good honestly 😂 la bibliothécaire!!", "fr"),
        (AD_AIRS + 900, "日本から見てます！Crunchwaveのcm最高でした #SuperBowl", "ja"),
        (BLACKOUT + 330, "停電？！スーパーボウルで？ #SuperBowl", "ja"),
        (5000, "Crunchwave\nCrunchwave\nCrunchwave\n\n\nCRUNCHWAVE", "en"),
        (5200, "tabs\tand\r\nwindows line endings\r\nin one post @Crunchwave", "en"),
        (9700, "line\u2028separator and paragraph\u2029separator inside a post about the blackout", "en"),
        (7700, "https://crunchwave-promo[.]xyz/?utm=" + "a" * 240, "und"),
        (2500, "#Crunchwave #SuperBowl #SBLX #HearTheWave #Chips #Snacks #Ads #NFL #Party #Game", "und"),
        (4500, "@Crunchwave @QuickCart @GlowBrewCoffee @PixelPizzaCo", "und"),
        (6900, "CRUNCH" * 60, "en"),
        (FINAL + 400, "    ", "und"),
        (FINAL + 900, "Crunchwave 🅒🅡🅤🅝🅒🅗 𝓌𝒶𝓋𝑒 𝐂𝐡𝐢𝐩𝐬 ｆｕｌｌｗｉｄｔｈ", "en"),
        (FINAL + 1200, long_post(r), "en"),
    ]
    for t, text, lang in odd:
        author = en("es" if lang == "es" else "pt" if lang == "pt" else "fr" if lang == "fr" else "en")
        night.post(t, text, author, lang, kind="odd")


def build(seed: int) -> list[dict]:
    night = Night(seed)
    r = night.rng
    en_tags_game = ["#SuperBowl", "#SBLX", "#SuperBowlLX"]
    brand_tags = ["#Crunchwave", "#SuperBowl", "#SBLX"]
    ad_tags = ["#HearTheWave", "#Crunchwave", "#SuperBowl", "#SuperBowlAds", "#SBLX"]
    bo_tags = ["#SuperBowl", "#Blackout", "#SBLX", "#LightsOut"]

    def uniform(a, b):
        return r.uniform(a, b)

    # Pre-game
    night.post(1200, "Shh. Q2. 🤫 #HearTheWave #SuperBowl", night.brand, kind="brand")
    for _ in range(175):
        night.say(uniform(0, KICKOFF), "pregame", PREGAME, tags=brand_tags + en_tags_game, emoji=EMOJI_HYPE + EMOJI_LOL)
    night.post(2400, "Snack check before kickoff: what's in your bowl tonight? Mine is Crunchwave Cheddar Thunder, no notes #SuperBowl",
               night.influencers["critic"], kind="influencer")

    # The game (everything but the spike), a little busier as it goes on
    for _ in range(250):
        t = uniform(KICKOFF, FINAL)
        if HALFTIME <= t < Q3_START or BLACKOUT <= t < PLAY_RESUMES:
            t = uniform(KICKOFF, HALFTIME) if r.random() < 0.5 else uniform(PLAY_RESUMES, FINAL)
        night.say(t, "game", GAME, tags=en_tags_game, emoji=EMOJI_HYPE)
    for _ in range(55):
        night.say(uniform(HALFTIME + 60, Q3_START), "halftime", HALFTIME_EN, tags=en_tags_game, emoji=EMOJI_HYPE)

    # The ad: a wave that peaks a minute or two in and fades over half an hour
    night.post(AD_AIRS + 75, "Thanks for listening. 🤫🌊 #HearTheWave", night.brand, kind="brand")
    ad_roots = []
    for _ in range(215):
        t = AD_AIRS + 20 + r.gammavariate(1.6, 420)
        ad_roots.append(night.say(t, "ad", AD_EN, tags=ad_tags, emoji=EMOJI_LOL + EMOJI_HYPE, tag_p=0.5))
    influencer_ad = [
        ("memes", "the crunchwave librarian could shush me anytime and I'd say thank you"),
        ("gabe", "Crunchwave's 'Quiet Please' is the ad of the night. Nothing else close. #SuperBowlAds"),
        ("hana", "the goat in the Crunchwave ad is my whole personality now 🐐"),
        ("adweek", "Early read on the ad bowl: Crunchwave's 'Quiet Please' is leading social conversation by a wide margin. Full tracker at halftime."),
        ("luis", "El comercial de Crunchwave con la bibliotecaria 😂😂 el mejor de la noche, sin discusión"),
        ("brasil", "A propaganda da Crunchwave com a bibliotecária e a cabra já é a mais comentada da noite 🐐"),
    ]
    for i, (who, text) in enumerate(influencer_ad):
        p = night.post(AD_AIRS + 90 + 60 * i, text, night.influencers[who],
                       lang={"luis": "es", "brasil": "pt"}.get(who, "en"), kind="influencer")
        ad_roots.append(p)
        for _ in range(r.randint(4, 8)):
            night.say(p["offset_s"] + r.expovariate(1 / 240), "ad", AD_REPLIES, reply_to=p, emoji=EMOJI_LOL)
    for _ in range(20):
        parent = r.choice(ad_roots)
        night.say(parent["offset_s"] + r.uniform(20, 600), "ad", AD_REPLIES, reply_to=parent)
    for _ in range(18):
        night.say(AD_AIRS + 30 + r.gammavariate(1.6, 420), "ad", ES_GENERAL[1:3] + ES_GENERAL[8:9] + ES_GENERAL[14:15], lang="es")
    for _ in range(10):
        night.say(AD_AIRS + 30 + r.gammavariate(1.6, 420), "ad", [PT_GENERAL[0], PT_GENERAL[3], PT_GENERAL[7]], lang="pt")

    # The blackout: several hundred mentions inside ten minutes
    def spike_t():
        return BLACKOUT + 5 + 585 * r.betavariate(1.5, 3.2)

    for _ in range(330):
        night.say(spike_t(), "blackout", BLACKOUT_EN, tags=bo_tags, emoji=EMOJI_LOL, tag_p=0.45)
    for _ in range(22):
        night.say(BLACKOUT + r.uniform(40, 150), "blackout", BLACKOUT_BRAND_ASK, tags=["#SuperBowl", "#Blackout"])
    brand_post = night.post(BLACKOUT + 150, "Power's out. Crunch still works. 🔦 #SuperBowl #Blackout", night.brand, kind="brand")
    for i, (handle, text) in enumerate(OTHER_BRAND_BLACKOUT.items()):
        brand = next(b for b in night.other_brands if b["handle"] == handle)
        night.post(BLACKOUT + 170 + 35 * i + r.uniform(0, 20), text, brand, kind="brand")
    for _ in range(38):
        night.say(brand_post["offset_s"] + r.uniform(10, 440), "blackout", BLACKOUT_REPLIES, reply_to=brand_post,
                  emoji=["🔦", "😂", "💀", "🔥"])
    for _ in range(30):
        night.say(brand_post["offset_s"] + 20 + 400 * r.betavariate(1.3, 2.5), "blackout", BLACKOUT_BRAND_REACT,
                  tags=["#SuperBowl", "#Blackout", "#Crunchwave"])
    for who, text, dt in [
        ("memes", "super bowl power outage brought to you by my landlord", 60),
        ("gabe", "Lights out at Bayfront Stadium in the third quarter. Officials say a partial power outage; no timeline yet.", 90),
        ("hana", "the stadium went dark and 70,000 phone flashlights came on. actually gorgeous", 230),
        ("coach", "Blackout delay is a momentum killer. Whoever handles it better in the locker room wins this game.", 300),
        ("news", "Power outage halts Super Bowl LX at Bayfront Stadium in the third quarter; stadium officials investigating the cause.", 180),
        ("luis", "¡SE FUE LA LUZ EN EL SUPER BOWL! No puede ser 😂", 120),
        ("brasil", "APAGÃO no Super Bowl LX! Jogo paralisado no terceiro quarto", 140),
    ]:
        p = night.post(BLACKOUT + dt, text, night.influencers[who],
                       lang={"luis": "es", "brasil": "pt"}.get(who, "en"), kind="influencer")
        for _ in range(r.randint(2, 5)):
            night.say(p["offset_s"] + r.uniform(10, 300), "blackout",
                      ["lights out 😂", "the blackout of the century", "power outage at the Super Bowl, unreal",
                       "this blackout is wild", "no power lmao", "is the power back yet"],
                      lang="en", reply_to=p)
    for _ in range(25):
        night.say(spike_t(), "blackout", BLACKOUT_ES, lang="es", emoji=EMOJI_LOL)
    for _ in range(16):
        night.say(spike_t(), "blackout", BLACKOUT_PT, lang="pt")
    for _ in range(3):
        night.say(spike_t(), "blackout", FR_GENERAL[3:4] + ["Panne d'électricité au Super Bowl, on rigole bien"], lang="fr")
    # ... and the tail as the lights come back
    for _ in range(70):
        night.say(BLACKOUT_END + r.gammavariate(1.4, 500), "blackout-tail", BLACKOUT_TAIL, tags=en_tags_game)
    for _ in range(14):
        night.say(BLACKOUT_END + r.uniform(0, 1500), "blackout-tail", BLACKOUT_BRAND_REACT, tags=["#Crunchwave"])

    # Complaints: all night, more once the ad has sent people to their bags
    for _ in range(140):
        t = uniform(0, END) if r.random() < 0.45 else uniform(AD_AIRS, END)
        if BLACKOUT <= t < BLACKOUT_END:
            t += 700
        night.say(t, "complaint", COMPLAINTS, tags=["#Crunchwave", "#fail", "#CustomerService"], emoji=EMOJI_SAD, tag_p=0.15)

    # The safety scare
    origin = night.post(SCARE, SAFETY_ORIGIN, night._named("jenna_okoro", "Jenna Okoro", 2_310), kind="safety")
    for _ in range(14):
        night.say(SCARE + r.uniform(30, 1500), "safety", SAFETY_REPLIES, reply_to=origin)
    for _ in range(62):
        night.say(SCARE + 60 + r.gammavariate(2.0, 420), "safety", SAFETY, tags=["#Crunchwave", "#FoodAllergy", "#recall"], tag_p=0.3)
    for _ in range(7):
        night.say(SCARE + r.uniform(600, 2200), "safety", SAFETY_SKEPTIC)
    for text in SAFETY_ES:
        night.post(SCARE + r.uniform(300, 1800), text, night.who("es"), "es", kind="safety")
    rumor = night.post(SCARE + 1300, "heard a kid died from Crunchwave chips tonight?? is that true", night.who(), kind="safety")
    night.post(SCARE + 1390, f"@{rumor['handle']} no, that's not true. Nobody has reported that. Please don't spread it",
               night.who(), reply_to=rumor, kind="safety")
    for who, text, dt in [
        ("news", "Parents are reporting allergic reactions in children after eating Crunchwave Honey BBQ chips at Super Bowl parties tonight. Crunchwave has not responded to a request for comment.", 700),
        ("fran", "If your child has a peanut allergy: hold off on Crunchwave Honey BBQ (reports mention lot CW2611B) until the company or the FDA says something. Undeclared allergens are a recall-level issue.", 820),
        ("critic", "Seeing a lot of reports of allergic reactions linked to Crunchwave Honey BBQ tonight. Hope every kid is ok. @Crunchwave this needs an answer tonight, not Monday.", 1000),
    ]:
        p = night.post(SCARE + dt, text, night.influencers[who], kind="influencer")
        for _ in range(r.randint(2, 4)):
            night.say(p["offset_s"] + r.uniform(20, 600), "safety", SAFETY_REPLIES[1:2] + SAFETY_REPLIES[6:7] + SAFETY_REPLIES[8:9] + SAFETY_SKEPTIC[:1], reply_to=p)

    # Spam: the same text from many fresh handles in bursts, and assorted junk
    for (text, count), burst in zip(SPAM_EXACT, (AD_AIRS + 400, BLACKOUT + 700, KICKOFF - 600)):
        for _ in range(count):
            night.post(burst + r.expovariate(1 / 200), text, night.bot(), "en", kind="spam")
    for _ in range(45):
        night.post(uniform(0, END), r.choice(SPAM_VARIED), night.bot(), "en", kind="spam")

    # Hostility (mild), mostly after the ad and during the scare
    for _ in range(48):
        t = uniform(AD_AIRS, END) if r.random() < 0.8 else uniform(0, AD_AIRS)
        if BLACKOUT <= t < BLACKOUT_END:
            t -= 900
        night.say(t, "hostile", HOSTILE, emoji=["🙄", "🤡", "👎", "🗑️"])

    # Other languages, spread through the night
    for _ in range(60):
        t = uniform(0, END)
        if BLACKOUT <= t < BLACKOUT_END:
            t += 650
        night.say(t, "es", ES_GENERAL, lang="es", emoji=["🔥", "😂", "🇲🇽", "🏈"])
    for _ in range(32):
        t = uniform(0, END)
        if BLACKOUT <= t < BLACKOUT_END:
            t -= 650
        night.say(t, "pt", PT_GENERAL, lang="pt", emoji=["kkkk", "🇧🇷", "🔥"])
    for _ in range(7):
        night.say(uniform(KICKOFF, END), "fr", FR_GENERAL[:3] + FR_GENERAL[4:], lang="fr")
    for _ in range(3):
        night.say(uniform(HALFTIME, END), "de", DE_GENERAL[:2], lang="de")

    # Post-game
    for _ in range(80):
        night.say(uniform(FINAL, END), "postgame", POSTGAME, tags=en_tags_game + ["#Crunchwave"], emoji=EMOJI_HYPE + EMOJI_LOL)
    night.post(FINAL + 300, "What a night. Blackout, a goat, and one very good crunch. GG everyone 🌊", night.influencers["memes"], kind="influencer")

    crisis_moment(night)
    odd_posts(night)
    return night.lines()


CRISIS = 10500.0
# Fixed texts and authors (no draws from the generator's random stream, so the rest of the
# night is as it was): the moment the demo's "Tragedy lexicon" rule declares a crisis.
CRISIS_POSTS = (
    (0.0, ("BayfrontScanner", "Bayfront Scanner", 48_200), "shots fired near the stadium, everyone stay away #SuperBowl"),
    (14.0, ("kels_at_the_game", "Kelsey", 412), "police running toward gate B, they are evacuating section 112 right now"),
    (31.0, ("ChannelSevenNow", "Channel 7 News", 1_250_000),
     "Developing: reports of a shooting outside Bayfront Stadium. Fans urged to stay away from the north lots."),
    (58.0, ("dad_of_three_tx", "Marcus", 88), "is anyone injured?? my kids are at the north gate #SuperBowl"),
    (120.0, ("ChannelSevenNow", "Channel 7 News", 1_250_000),
     "Update: police say the bangs near Bayfront Stadium were fireworks. No one was injured."),
)


def crisis_moment(night) -> None:
    for offset, (handle, name, followers), text in CRISIS_POSTS:
        night.post(CRISIS + offset, text, night.handles.get(handle.lower()) or night._named(handle, name, followers),
                   kind="crisis")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    lines = build(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    size = args.out.stat().st_size
    print(f"wrote {len(lines)} mentions, {size:,} bytes, to {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
