"""Word lists for the synthetic catalog: one vocabulary per topic, so that a language model can
tell topics apart from item text alone, plus generic words shared by every topic (noise)."""

from __future__ import annotations

from typing import Final

#: topic -> (phrase used in descriptions, topic nouns). Nouns are specific to their topic.
TOPICS: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "gardening": ("for the garden and the greenhouse", (
        "trowel", "compost bin", "planter", "garden hose", "pruning shears", "seed tray",
        "watering can", "flower bulbs", "wheelbarrow", "hedge trimmer", "plant food", "rake",
        "greenhouse shelf", "vegetable seeds", "potting soil", "garden gloves")),
    "cooking": ("for the home kitchen and the cook", (
        "skillet", "saucepan", "chef knife", "cutting board", "whisk", "spice rack", "cookbook",
        "stock pot", "pepper mill", "baking tray", "mixing bowl", "oven mitt", "wok", "ladle",
        "rolling pin", "casserole dish")),
    "photography": ("for photographers and their cameras", (
        "camera body", "zoom lens", "tripod", "flash unit", "memory card", "camera bag",
        "lens filter", "light meter", "shutter release", "lens hood", "photo printer",
        "studio light", "reflector", "camera strap", "prime lens", "film roll")),
    "hiking": ("for hiking, trekking and camping outdoors", (
        "backpack", "trekking poles", "hiking boots", "tent", "sleeping bag", "headlamp",
        "water filter", "compass", "trail map", "rain jacket", "camping stove", "bivvy bag",
        "gaiters", "hydration bladder", "first aid kit", "carabiner")),
    "music": ("for musicians, bands and music lessons", (
        "acoustic guitar", "guitar strings", "amplifier", "drum sticks", "keyboard piano",
        "microphone", "metronome", "sheet music", "violin bow", "guitar pedal", "ukulele",
        "music stand", "drum kit", "harmonica", "audio interface", "guitar picks")),
    "fitness": ("for workouts, the gym and training", (
        "dumbbells", "yoga mat", "kettlebell", "resistance bands", "jump rope", "protein shaker",
        "foam roller", "pull-up bar", "weight bench", "gym gloves", "exercise ball",
        "running belt", "ab wheel", "heart rate monitor", "barbell plates", "training log")),
    "toys": ("for children at play", (
        "building blocks", "teddy bear", "jigsaw puzzle", "toy train", "doll house", "kite",
        "board game", "toy car", "rag doll", "spinning top", "marble run", "puppet",
        "stacking rings", "toy robot", "play tent", "colouring book")),
    "computing": ("for computers, desks and home offices", (
        "laptop stand", "mechanical keyboard", "wireless mouse", "monitor", "usb hub",
        "ssd drive", "webcam", "wifi router", "graphics card", "laptop sleeve", "docking station",
        "ethernet cable", "power bank", "headset", "motherboard", "external hard drive")),
    "pets": ("for dogs, cats and other pets", (
        "dog leash", "cat litter", "chew toy", "pet bed", "aquarium", "bird cage", "fish food",
        "scratching post", "dog collar", "cat carrier", "pet brush", "feeding bowl", "dog treats",
        "hamster wheel", "flea comb", "litter tray")),
    "stationery": ("for writing, drawing and the study desk", (
        "notebook", "fountain pen", "ink cartridges", "sketchbook", "pencil case", "highlighters",
        "sticky notes", "desk diary", "envelopes", "letter paper", "drawing pencils",
        "watercolour set", "ruler", "stapler", "paper clips", "calligraphy nib")),
    "fishing": ("for anglers, rivers and the sea", (
        "fishing rod", "fishing reel", "tackle box", "fishing lure", "landing net", "bait bucket",
        "fishing line", "fly box", "wading boots", "float set", "fish finder", "rod holder",
        "hooks", "sinkers", "keep net", "angling chair")),
    "beauty": ("for skin care, make-up and grooming", (
        "lipstick", "face moisturiser", "perfume", "mascara", "nail polish", "hair dryer",
        "makeup brush", "face mask", "eyeliner", "hand cream", "shampoo", "hair straightener",
        "cleansing oil", "blusher", "body lotion", "shaving kit")),
}  # fmt: skip

#: Shared adjectives: every topic uses them, so they carry no topic signal.
GENERIC: Final[tuple[str, ...]] = (
    "classic", "deluxe", "compact", "premium", "vintage", "red", "blue", "green", "black",
    "white", "large", "small", "travel", "everyday", "professional", "budget", "eco", "smart",
    "wooden", "steel",
)  # fmt: skip
