"""Eight caller sentences every part of the bundled agent must handle: the STT's
smoke test decodes them and the domain's phrase table must contain them."""

SMOKE = [
    "i would like to book an appointment for tuesday at three pm",
    "where is my order one two three four",
    "can i get a refund for my order",
    "make it wednesday instead",
    "thank you goodbye",
    "hello",
    "yes please",
    "no thanks",
]
