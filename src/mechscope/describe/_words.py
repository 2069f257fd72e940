"""Word data for the describe benchmark: number words, concept word lists, a word pool.

The concept lists are disjoint, lower-case, single words; they are the ground truth
of the concept neurons and the lexicon of the rule-based judge.
"""

from __future__ import annotations

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number_words(n: int) -> str:
    """Write a whole number out in English words (negative numbers get 'minus').

    >>> number_words(42), number_words(7), number_words(115)
    ('forty-two', 'seven', 'one hundred fifteen')
    """
    if n < 0:
        return "minus " + number_words(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("-" + _ONES[n % 10] if n % 10 else "")
    if n < 1000:
        return _ONES[n // 100] + " hundred" + (" " + number_words(n % 100) if n % 100 else "")
    return number_words(n // 1000) + " thousand" + (" " + number_words(n % 1000) if n % 1000 else "")


CONCEPTS: dict[str, list[str]] = {
    "animals": "dog cat horse cow sheep goat pig lion tiger bear wolf fox rabbit deer mouse elephant "
    "giraffe zebra monkey camel donkey squirrel kangaroo leopard".split(),
    "birds": "eagle sparrow robin parrot owl pigeon crow swan duck goose hawk falcon pelican penguin "
    "flamingo seagull woodpecker hummingbird ostrich peacock".split(),
    "fruits": "apple banana orange grape mango pear peach cherry plum lemon lime strawberry pineapple "
    "watermelon apricot kiwi papaya coconut raspberry blueberry".split(),
    "vegetables": "carrot potato onion garlic cabbage lettuce spinach broccoli cucumber pepper tomato "
    "celery radish turnip pumpkin zucchini eggplant beet leek asparagus".split(),
    "colors": "red blue green yellow purple violet pink brown black white gray grey crimson scarlet "
    "turquoise magenta beige maroon indigo amber".split(),
    "countries": "france germany spain italy japan china india brazil canada mexico egypt kenya norway "
    "sweden poland greece turkey peru chile argentina".split(),
    "cities": "paris london berlin madrid rome tokyo beijing delhi cairo moscow sydney toronto chicago "
    "boston vienna prague lisbon dublin oslo athens".split(),
    "body": "hand foot head arm leg finger toe knee elbow shoulder neck nose ear eye mouth tooth "
    "heart lung liver stomach".split(),
    "vehicles": "car truck bus bicycle motorcycle train tram airplane helicopter boat ship submarine "
    "scooter van taxi tractor ambulance rocket yacht canoe".split(),
    "instruments": "piano guitar violin cello drum flute trumpet saxophone clarinet harp trombone "
    "banjo ukulele accordion harmonica organ tuba oboe bagpipes xylophone".split(),
    "sports": "football soccer tennis basketball baseball golf hockey rugby cricket volleyball boxing "
    "wrestling swimming cycling skiing surfing fencing archery rowing badminton".split(),
    "weather": "rain snow storm wind thunder lightning fog hail cloud sunshine drizzle blizzard tornado "
    "hurricane frost breeze humidity drought monsoon sleet".split(),
    "emotions": "happy sad angry afraid joyful anxious calm proud ashamed jealous lonely excited "
    "nervous grateful bored curious furious cheerful gloomy hopeful".split(),
    "professions": "doctor nurse teacher lawyer engineer farmer baker chef pilot soldier plumber "
    "carpenter dentist surgeon architect journalist scientist electrician mechanic librarian".split(),
    "tools": "hammer screwdriver wrench spade drill chisel pliers shovel rake axe ladder crowbar "
    "spanner sander trowel mallet clamp level tape file".split(),
    "furniture": "chair table sofa bed desk shelf cabinet stool bench wardrobe dresser couch armchair "
    "bookcase cupboard drawer mattress nightstand ottoman futon".split(),
    "clothing": "shirt trousers jacket coat dress skirt sweater scarf hat glove sock shoe boot "
    "belt tie jeans hoodie blouse vest pajamas".split(),
    "kitchen": "spoon fork knife plate bowl cup mug pan pot kettle oven stove toaster blender "
    "spatula ladle whisk colander teapot grater".split(),
    "family": "mother father sister brother aunt uncle cousin grandmother grandfather daughter son "
    "niece nephew husband wife parent sibling grandson granddaughter stepmother".split(),
    "time": "monday tuesday wednesday thursday friday saturday sunday january february march april "
    "june july august september october november december".split(),
    "astronomy": "sun moon star planet comet asteroid galaxy nebula mercury venus mars jupiter saturn "
    "uranus neptune pluto meteor orbit telescope eclipse".split(),
    "trees": "oak pine maple birch willow cedar elm ash beech spruce fir cypress redwood sequoia "
    "poplar chestnut walnut palm bamboo juniper".split(),
    "drinks": "coffee tea milk juice water wine beer soda lemonade cocoa whiskey vodka rum gin "
    "cider champagne smoothie espresso latte brandy".split(),
    "metals": "iron copper gold silver tin lead zinc nickel aluminum steel bronze brass platinum "
    "titanium chromium cobalt pewter tungsten magnesium lithium".split(),
    "buildings": "house castle church temple tower barn cottage palace mansion cabin skyscraper "
    "hospital school library museum stadium factory warehouse hotel prison".split(),
    "computing": "computer keyboard modem monitor laptop printer server router software hardware "
    "database algorithm compiler browser internet processor memory network website password".split(),
}

FILLER = (
    "the a an of to in on at with and or but is was are be been this that it he she they we you "
    "very quite often never always some many few more most other such only just also then "
    "there here when where why how what which who because about over under after before "
    "big small old new good bad long short high low early late first last same different"
).split()

POOL = sorted({w for words in CONCEPTS.values() for w in words})
