INSERT INTO recommendations (product_id, recommendation_id, author, rate, content) VALUES
  (1, 1, 'Ada', 5, 'Sturdy and easy to put up'),
  (1, 2, 'Grace', 4, 'Good value'),
  (2, 1, 'Linus', 3, 'Heavier than expected'),
  (3, 1, 'Barbara', 5, 'Flowers all summer');
