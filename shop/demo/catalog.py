"""What the demo store sells: categories (two levels), their brands, product nouns, price
ranges that fit them, and which sub-categories complement which (camera -> memory card ->
camera bag), so generated sessions have a sequential structure a model can learn."""

# top category -> (brands, features used in descriptions, {sub-category: (nouns, (min price, max price))})
CATALOG = {
    "Cameras & Photo": (
        ["Lumina", "Apertura", "Shutterfield", "Kestrel Optics", "Northlight"],
        ["weather-sealed body", "fast autofocus", "image stabilisation", "4K video", "lightweight design"],
        {
            "Cameras": (["mirrorless camera", "compact camera", "DSLR camera", "action camera"], (249, 2499)),
            "Lenses": (["prime lens", "zoom lens", "wide-angle lens", "macro lens"], (149, 1499)),
            "Memory Cards": (["SD card", "microSD card", "CFexpress card"], (9, 119)),
            "Camera Bags": (["camera bag", "sling bag", "camera backpack"], (25, 179)),
        },
    ),
    "Computers": (
        ["Corebyte", "Vantage", "Pixelforge", "Helix", "Arcadia Systems"],
        ["all-day battery", "backlit keys", "USB-C charging", "quiet operation", "slim aluminium chassis"],
        {
            "Laptops": (["ultrabook", "gaming laptop", "2-in-1 laptop", "business laptop"], (399, 2799)),
            "Monitors": (["4K monitor", "ultrawide monitor", "portable monitor"], (119, 899)),
            "Keyboards & Mice": (["mechanical keyboard", "wireless mouse", "ergonomic keyboard"], (15, 179)),
            "Laptop Sleeves": (["laptop sleeve", "laptop case"], (15, 69)),
        },
    ),
    "Phones": (
        ["Nimbus", "Orbit Mobile", "Talon", "Brightwave"],
        ["fast charging", "drop protection", "water resistance", "long battery life", "noise cancelling"],
        {
            "Smartphones": (["smartphone", "5G smartphone", "compact phone"], (149, 1299)),
            "Phone Cases": (["phone case", "wallet case", "rugged case"], (8, 59)),
            "Chargers & Cables": (["fast charger", "USB-C cable", "wireless charger", "power bank"], (8, 79)),
            "Earbuds": (["wireless earbuds", "sport earbuds", "noise-cancelling earbuds"], (19, 299)),
        },
    ),
    "Kitchen": (
        ["Copperleaf", "Brewhaus", "Oak & Iron", "Mesa Kitchen"],
        ["dishwasher safe", "non-stick coating", "easy to clean", "stainless steel", "compact footprint"],
        {
            "Coffee Makers": (["espresso machine", "drip coffee maker", "French press", "pour-over set"], (29, 799)),
            "Coffee Beans": (["espresso roast", "single-origin beans", "house blend", "decaf blend"], (8, 39)),
            "Mugs & Cups": (["ceramic mug", "travel mug", "espresso cups"], (6, 39)),
            "Cookware": (["cast iron skillet", "saucepan set", "chef's knife", "Dutch oven"], (19, 299)),
        },
    ),
    "Home & Living": (
        ["Hearthstone", "Linen & Loom", "Nordhem", "Softlight"],
        ["natural materials", "machine washable", "warm ambient light", "hand finished", "timeless design"],
        {
            "Bedding": (["duvet cover", "linen sheet set", "down pillow"], (25, 249)),
            "Lamps": (["desk lamp", "floor lamp", "bedside lamp"], (19, 219)),
            "Rugs": (["wool rug", "runner rug", "jute rug"], (39, 599)),
            "Candles": (["scented candle", "candle set", "soy candle"], (6, 45)),
        },
    ),
    "Running": (
        ["Stride", "Pacer", "Fleetfoot", "Aerolite"],
        ["breathable mesh", "responsive cushioning", "reflective details", "GPS tracking", "sweat wicking"],
        {
            "Running Shoes": (["road running shoe", "trail running shoe", "racing flat"], (59, 219)),
            "Running Socks": (["running socks", "compression socks"], (8, 25)),
            "Water Bottles": (["insulated bottle", "soft flask", "hydration bottle"], (8, 45)),
            "Sports Watches": (["GPS running watch", "fitness tracker", "heart-rate watch"], (59, 599)),
        },
    ),
    "Camping & Outdoors": (
        ["Ridgeline", "Basecamp Co", "Timberwolf", "Summit Supply"],
        ["waterproof fabric", "packs small", "three-season rated", "fast set-up", "ultralight"],
        {
            "Tents": (["2-person tent", "family tent", "backpacking tent"], (59, 699)),
            "Sleeping Bags": (["down sleeping bag", "synthetic sleeping bag", "sleeping pad"], (39, 399)),
            "Camping Stoves": (["camping stove", "cook set", "gas canister stove"], (25, 179)),
            "Headlamps": (["headlamp", "camping lantern"], (12, 89)),
        },
    ),
    "Cycling": (
        ["Velora", "Crankworks", "Spoke & Chain", "Gearline"],
        ["lightweight frame", "USB rechargeable", "tool-free fitting", "high visibility", "hardened steel"],
        {
            "Bikes": (["road bike", "gravel bike", "city bike", "e-bike"], (299, 3499)),
            "Helmets": (["road helmet", "commuter helmet", "MIPS helmet"], (35, 249)),
            "Bike Lights": (["front light", "rear light", "light set"], (12, 119)),
            "Bike Locks": (["U-lock", "folding lock", "chain lock"], (15, 109)),
        },
    ),
    "Books": (
        ["Harbor Press", "Quill House", "Penrose Books", "Lantern Editions"],
        ["bestselling author", "illustrated edition", "award winner", "beautifully bound", "clip-on design"],
        {
            "Novels": (["mystery novel", "fantasy novel", "literary novel", "thriller"], (8, 29)),
            "Cookbooks": (["baking cookbook", "vegetarian cookbook", "weeknight cookbook"], (15, 45)),
            "Reading Lights": (["book light", "reading lamp"], (8, 39)),
            "Bookmarks": (["leather bookmark", "bookmark set"], (3, 15)),
        },
    ),
    "Toys & Games": (
        ["Playwell", "Meeple Works", "Brickton", "Puzzlecraft"],
        ["for 2-6 players", "ages 8 and up", "quick to learn", "replayable", "family favourite"],
        {
            "Board Games": (["strategy board game", "cooperative game", "family board game"], (15, 89)),
            "Card Games": (["card game", "party card game", "deck-building game"], (8, 29)),
            "Puzzles": (["1000-piece puzzle", "3D puzzle", "wooden puzzle"], (10, 49)),
            "Building Sets": (["building set", "robotics kit", "marble run"], (15, 199)),
        },
    ),
    "Beauty": (
        ["Glow & Co", "Verdant Skin", "Luxe Botanica", "Pure Petal"],
        ["fragrance free", "dermatologist tested", "vegan formula", "lightweight texture", "long lasting"],
        {
            "Skincare": (["moisturiser", "facial serum", "cleanser", "night cream"], (8, 89)),
            "Sunscreen": (["SPF 50 sunscreen", "mineral sunscreen", "tinted SPF"], (6, 39)),
            "Makeup": (["lipstick", "mascara", "foundation", "eyeshadow palette"], (6, 59)),
            "Fragrance": (["eau de parfum", "body mist", "perfume oil"], (19, 159)),
        },
    ),
    "Pets": (
        ["Pawsome", "Barkley & Co", "Tailwind Pets", "Whisker Works"],
        ["vet approved", "durable build", "grain free", "machine washable", "adjustable fit"],
        {
            "Dog Food": (["dry dog food", "puppy food", "grain-free kibble"], (15, 89)),
            "Dog Toys": (["chew toy", "rope toy", "puzzle feeder"], (5, 35)),
            "Leashes & Collars": (["dog leash", "dog collar", "harness"], (8, 49)),
            "Pet Beds": (["orthopedic dog bed", "cat bed", "pet blanket"], (25, 149)),
        },
    ),
    "Music": (
        ["Resonant", "Fretline", "Tonewood", "Ampere Audio"],
        ["rich tone", "solid spruce top", "low action", "clip-on display", "warm valve sound"],
        {
            "Guitars": (["acoustic guitar", "electric guitar", "classical guitar"], (119, 1999)),
            "Guitar Strings": (["guitar strings", "nylon strings", "coated strings"], (6, 29)),
            "Tuners": (["clip-on tuner", "pedal tuner"], (10, 49)),
            "Amplifiers": (["practice amp", "combo amplifier", "headphone amp"], (79, 899)),
        },
    ),
    "Art Supplies": (
        ["Palette Lane", "Studio Ochre", "Canvas & Co", "Inkwell"],
        ["artist grade pigments", "acid-free paper", "synthetic bristles", "pre-stretched", "vivid colours"],
        {
            "Paints": (["acrylic paint set", "watercolour set", "oil paint set", "gouache set"], (8, 79)),
            "Brushes": (["brush set", "detail brushes", "flat brush"], (6, 49)),
            "Canvases": (["stretched canvas", "canvas panels", "canvas roll"], (8, 59)),
            "Sketchbooks": (["sketchbook", "watercolour pad", "drawing journal"], (6, 35)),
        },
    ),
}

# sub-category -> sub-categories people buy next (the order is the usual order)
COMPLEMENTS = {
    "Cameras": ["Memory Cards", "Lenses", "Camera Bags"],
    "Lenses": ["Camera Bags"],
    "Memory Cards": ["Camera Bags"],
    "Laptops": ["Laptop Sleeves", "Keyboards & Mice", "Monitors"],
    "Monitors": ["Keyboards & Mice"],
    "Smartphones": ["Phone Cases", "Chargers & Cables", "Earbuds"],
    "Phone Cases": ["Chargers & Cables"],
    "Coffee Makers": ["Coffee Beans", "Mugs & Cups"],
    "Coffee Beans": ["Mugs & Cups"],
    "Cookware": ["Cookbooks"],
    "Bedding": ["Candles"],
    "Lamps": ["Candles"],
    "Running Shoes": ["Running Socks", "Water Bottles", "Sports Watches"],
    "Tents": ["Sleeping Bags", "Camping Stoves", "Headlamps"],
    "Sleeping Bags": ["Headlamps"],
    "Bikes": ["Helmets", "Bike Lights", "Bike Locks"],
    "Helmets": ["Bike Lights"],
    "Novels": ["Bookmarks", "Reading Lights"],
    "Board Games": ["Card Games"],
    "Skincare": ["Sunscreen"],
    "Makeup": ["Fragrance"],
    "Dog Food": ["Dog Toys", "Leashes & Collars", "Pet Beds"],
    "Guitars": ["Guitar Strings", "Tuners", "Amplifiers"],
    "Paints": ["Brushes", "Canvases"],
    "Brushes": ["Canvases"],
}

# Taste clusters: the top categories a group of customers mostly shops in.
TASTES = [
    ["Cameras & Photo", "Computers", "Camping & Outdoors"],
    ["Computers", "Phones", "Music"],
    ["Kitchen", "Home & Living", "Books"],
    ["Running", "Cycling", "Beauty"],
    ["Camping & Outdoors", "Cycling", "Running"],
    ["Toys & Games", "Pets", "Home & Living"],
    ["Art Supplies", "Music", "Books"],
    ["Beauty", "Home & Living", "Kitchen"],
    ["Phones", "Cameras & Photo", "Toys & Games"],
    ["Pets", "Kitchen", "Camping & Outdoors"],
]

MODEL_WORDS = ["Pro", "Lite", "Classic", "Ultra", "Air", "Max", "Go", "Prime", "Edge", "Nova", "One", "Flex"]

FIRST_NAMES = """Ava Ben Chloe Daniel Ella Felix Grace Hugo Isla Jack Kai Lena Leo Maya Noah Olivia Omar Priya
Quinn Rosa Sam Tara Uma Victor Wen Xavier Yara Zoe Amir Bianca Carlos Dara Elif Farah Gabriel Hana Ivan Jonas
Keiko Liam Mila Nadia Oscar Paula Ravi Sofia Tomas Ines Arjun Beatriz Chen Dmitri Esme Freya Goran Hiro""".split()
LAST_NAMES = """Adams Baker Chen Diaz Evans Fischer Garcia Hughes Ito Jensen Kim Lopez Moreau Novak Okafor Patel
Quinn Rossi Silva Tanaka Ueda Varga Walsh Xu Yilmaz Zhang Almeida Berg Costa Dubois Eriksen Fontaine Gupta
Haddad Ivanova Kowalski Larsen Murphy Nakamura Ortiz Petrov Reyes Schmidt Torres Vogel Weber Young Zimmer""".split()
