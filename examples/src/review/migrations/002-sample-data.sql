INSERT INTO reviews (product_id, review_id, author, subject, content) VALUES
  (1, 1, 'Ada', 'Solid', 'Held up through a windy winter'),
  (1, 2, 'Grace', 'Nice', 'Looks good on the wall'),
  (2, 1, 'Linus', 'Heavy', 'Needs two people to set up'),
  (3, 1, 'Barbara', 'Lovely', 'Grew quickly');
