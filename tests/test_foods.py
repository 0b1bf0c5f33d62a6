"""The food reading shared by measures, data preparation and steering, on hand-made lines."""

from recipegen.foods import FoodCounter, food_lexicon, foods_in, main_word


def test_kitchen_words_that_directions_name_far_more_often_are_not_foods():
    lines = ["1 pound dried beans, rinsed and picked over", "Spice Mixture:", "2 cups water", "1 cup rice",
             "salt to taste", "1 cup chicken broth", "2 chicken breasts"]
    steps = ["Heat the water over medium heat.", "Pour the mixture over the rice.", "Stir the mixture."] * 8
    assert main_word("Spice Mixture:") == "mixture"
    foods = food_lexicon(lines, steps)
    assert "mixture" not in foods, "named by 1 line and 16 steps"
    assert {"water", "rice", "salt", "broth", "breast", "chicken"} - foods == {"chicken"}, (
        "chicken is no line's main word")


def test_a_word_rarely_the_main_word_of_the_lines_naming_it_is_not_a_food():
    lines = ["1 cup brown sugar"] * 30 + ["2 hash browns"]
    assert main_word("2 hash browns") == "brown"
    assert food_lexicon(lines) == {"sugar"}, "brown: the main word of 1 of its 31 lines"


def test_the_counter_reads_a_corpus_a_recipe_at_a_time():
    counter = FoodCounter()
    counter.add(["2 eggs"], ["Beat the eggs."])
    counter.add(["1 cup flour"], ["Sift the flour."])
    assert counter.lexicon() == food_lexicon(["2 eggs", "1 cup flour"], ["Beat the eggs.", "Sift the flour."]) == {
        "egg", "flour"}


def test_foods_in_reads_singulars():
    assert foods_in("Beat the eggs into the flour, then serve", {"egg", "flour", "milk"}) == {"egg", "flour"}
